//! Wire tests: hand-checked layout, checked-in byte vectors per state, property tests.

use super::*;
use proptest::prelude::*;

fn packet(state: State, next: Option<&str>) -> Packet {
    Packet {
        show: [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ],
        boot: 0x0123_4567_89ab_cdef,
        seq: 300,
        clock_us: 1_764_090_000_000_000,
        state,
        next: next.map(str::to_owned),
        live: None,
    }
}

/// One packet per state and its encoding with the development key (checked in: any change
/// to these bytes is a wire format change and needs a new `VERSION`). `BEACON_BLESS=1`
/// rewrites the files instead of checking them.
fn vectors() -> Vec<(&'static str, Packet, &'static str)> {
    vec![
        (
            "stopped",
            packet(State::Stopped, None),
            include_str!("../../tests/vectors/stopped.hex"),
        ),
        (
            "standby",
            packet(
                State::Standby {
                    cue: "doors".into(),
                },
                Some("doors"),
            ),
            include_str!("../../tests/vectors/standby.hex"),
        ),
        (
            "running",
            packet(
                State::Running {
                    cue: "wave".into(),
                    start_us: 1_764_090_001_500_000,
                },
                Some("finale"),
            ),
            include_str!("../../tests/vectors/running.hex"),
        ),
        (
            "hold",
            packet(
                State::Hold {
                    cue: "wave".into(),
                    start_us: 1_764_090_001_500_000,
                    offset_us: 2_250_000,
                },
                Some("finale"),
            ),
            include_str!("../../tests/vectors/hold.hex"),
        ),
        (
            "blackout",
            packet(State::Blackout, None),
            include_str!("../../tests/vectors/blackout.hex"),
        ),
        (
            "running-live",
            Packet {
                live: Some(LiveLayer {
                    at_us: 1_764_090_000_400_000,
                    fade_us: 4_000_000,
                    zones: vec![
                        LiveZone {
                            zone: 0,
                            rgb: [0xff, 0x00, 0x40],
                        },
                        LiveZone {
                            zone: 3,
                            rgb: [0x00, 0x80, 0xff],
                        },
                    ],
                }),
                ..packet(
                    State::Running {
                        cue: "wave".into(),
                        start_us: 1_764_090_001_500_000,
                    },
                    Some("finale"),
                )
            },
            include_str!("../../tests/vectors/running-live.hex"),
        ),
    ]
}

#[test]
fn layout_by_hand() {
    let p = Packet {
        show: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        boot: 1,
        seq: 2,
        clock_us: 300,
        state: State::Standby { cue: "ab".into() },
        next: None,
        live: Some(LiveLayer {
            at_us: 5,
            fade_us: 0,
            zones: vec![LiveZone {
                zone: 2,
                rgb: [1, 2, 3],
            }],
        }),
    };
    let bytes = emit(&p, &Key::dev());
    let expected_body: &[u8] = &[
        b'C', b'L', 2, // magic, version
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, // show id
        1,  // boot (varint)
        2,  // seq (varint)
        0xac, 0x02, // clock_us = 300 (varint: 0x2c | 0x80, 0x02)
        1,    // state variant 1 = Standby
        2, b'a', b'b', // cue name: length, bytes
        0,    // next: None
        1, 5, 0, // live: Some, at_us = 5, fade_us = 0
        1, 2, 1, 2, 3, // one zone: index 2, rgb 1 2 3
    ];
    assert_eq!(&bytes[..bytes.len() - TAG_LEN], expected_body);
    assert_eq!(bytes.len(), expected_body.len() + TAG_LEN);
    assert_eq!(parse(&bytes, &Key::dev()), Ok(p));
}

#[test]
fn checked_in_vectors() {
    for (name, p, hex_text) in vectors() {
        let bytes = emit(&p, &Key::dev());
        if std::env::var_os("BEACON_BLESS").is_some() {
            let path = format!("{}/tests/vectors/{name}.hex", env!("CARGO_MANIFEST_DIR"));
            std::fs::write(path, format!("{}\n", hex::encode(&bytes))).unwrap();
            continue;
        }
        let expected = hex::decode(hex_text.trim()).unwrap();
        assert_eq!(hex::encode(&bytes), hex::encode(&expected), "vector {name}");
        assert_eq!(parse(&expected, &Key::dev()), Ok(p), "vector {name}");
    }
}

/// Prints the size of each state's packet (`cargo test -p beacon packet_sizes -- --nocapture`).
#[test]
fn packet_sizes() {
    for (name, p, _) in vectors() {
        println!("{name:>9}: {} bytes", emit(&p, &Key::dev()).len());
    }
    println!(
        "worst case: {} bytes",
        emit(&worst_case(), &Key::dev()).len()
    );
}

fn worst_case() -> Packet {
    let name = "é".repeat(MAX_NAME); // 2 bytes each: cut to MAX_NAME bytes
    Packet {
        show: [0xff; 16],
        boot: u64::MAX,
        seq: u64::MAX,
        clock_us: u64::MAX,
        state: State::Hold {
            cue: name.clone(),
            start_us: u64::MAX,
            offset_us: u64::MAX,
        },
        next: Some(name),
        live: Some(LiveLayer {
            at_us: u64::MAX,
            fade_us: u64::MAX,
            zones: vec![
                LiveZone {
                    zone: 255,
                    rgb: [255; 3]
                };
                MAX_LIVE_ZONES + 10
            ],
        }),
    }
}

#[test]
fn worst_case_fits() {
    let bytes = emit(&worst_case(), &Key::dev());
    assert!(bytes.len() <= MAX_PACKET, "{} bytes", bytes.len());
    let back = parse(&bytes, &Key::dev()).unwrap();
    assert_eq!(back.state.cue().unwrap().len(), MAX_NAME);
    assert_eq!(back.live.unwrap().zones.len(), MAX_LIVE_ZONES);
}

#[test]
fn rejects_by_reason() {
    let key = Key::dev();
    let good = emit(&packet(State::Blackout, None), &key);
    assert_eq!(parse(&good[..10], &key), Err(WireError::TooShort(10)));
    assert_eq!(parse(&[0; 700], &key), Err(WireError::TooLong(700)));
    let mut bad = good.clone();
    bad[0] = b'X';
    assert_eq!(parse(&bad, &key), Err(WireError::BadMagic));
    let mut bad = good.clone();
    bad[2] = 9;
    assert_eq!(parse(&bad, &key), Err(WireError::UnknownVersion(9)));
    let mut bad = good.clone();
    bad[5] ^= 1;
    assert_eq!(parse(&bad, &key), Err(WireError::BadTag));
    assert_eq!(
        parse(&good, &Key::from_bytes([1; 32])),
        Err(WireError::BadTag)
    );
    // Correctly signed but with a trailing byte in the body.
    let mut signed = good[..good.len() - TAG_LEN].to_vec();
    signed.push(0);
    let tag = mac(&key, &signed).finalize().into_bytes();
    signed.extend_from_slice(&tag[..TAG_LEN]);
    assert_eq!(parse(&signed, &key), Err(WireError::TrailingBytes(1)));
    // Correctly signed but with an overlong name.
    let mut long = packet(
        State::Standby {
            cue: "x".repeat(MAX_NAME + 1),
        },
        None,
    );
    let mut signed = MAGIC.to_vec();
    signed.push(VERSION);
    signed = postcard::to_extend(&long, signed).unwrap();
    let tag = mac(&key, &signed).finalize().into_bytes();
    signed.extend_from_slice(&tag[..TAG_LEN]);
    assert_eq!(
        parse(&signed, &key),
        Err(WireError::NameTooLong(MAX_NAME + 1))
    );
    // emit cuts it instead.
    let cut = parse(&emit(&long, &key), &key).unwrap();
    long.state = State::Standby {
        cue: "x".repeat(MAX_NAME),
    };
    assert_eq!(cut, long);
}

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![".{0,20}", "[a-z ]{0,100}"]
}

fn arb_state() -> impl Strategy<Value = State> {
    prop_oneof![
        Just(State::Stopped),
        Just(State::Blackout),
        arb_name().prop_map(|cue| State::Standby { cue }),
        (arb_name(), any::<u64>()).prop_map(|(cue, start_us)| State::Running { cue, start_us }),
        (arb_name(), any::<u64>(), any::<u64>()).prop_map(|(cue, start_us, offset_us)| {
            State::Hold {
                cue,
                start_us,
                offset_us,
            }
        }),
    ]
}

fn arb_live() -> impl Strategy<Value = Option<LiveLayer>> {
    proptest::option::of(
        (
            any::<u64>(),
            any::<u64>(),
            proptest::collection::vec(
                (any::<u8>(), any::<[u8; 3]>()).prop_map(|(zone, rgb)| LiveZone { zone, rgb }),
                0..80,
            ),
        )
            .prop_map(|(at_us, fade_us, zones)| LiveLayer {
                at_us,
                fade_us,
                zones,
            }),
    )
}

fn arb_packet() -> impl Strategy<Value = Packet> {
    (
        any::<[u8; 16]>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        arb_state(),
        proptest::option::of(arb_name()),
        arb_live(),
    )
        .prop_map(|(show, boot, seq, clock_us, state, next, live)| Packet {
            show,
            boot,
            seq,
            clock_us,
            state,
            next,
            live,
        })
}

fn capped(mut p: Packet) -> Packet {
    if let Some(cue) = p.state.cue_mut() {
        cap_name(cue);
    }
    if let Some(next) = p.next.as_mut() {
        cap_name(next);
    }
    if let Some(live) = p.live.as_mut() {
        live.zones.truncate(MAX_LIVE_ZONES);
    }
    p
}

proptest! {
    #[test]
    fn round_trip(p in arb_packet(), key in any::<[u8; 32]>()) {
        let key = Key::from_bytes(key);
        let bytes = emit(&p, &key);
        prop_assert!(bytes.len() <= MAX_PACKET);
        prop_assert_eq!(parse(&bytes, &key), Ok(capped(p)));
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        let _ = parse(&bytes, &Key::dev());
    }

    #[test]
    fn parse_never_panics_on_signed_garbage(body in proptest::collection::vec(any::<u8>(), 0..560)) {
        // Garbage that passes the tag check exercises the body decoder itself.
        let key = Key::dev();
        let mut signed = MAGIC.to_vec();
        signed.push(VERSION);
        signed.extend_from_slice(&body);
        let tag = mac(&key, &signed).finalize().into_bytes();
        signed.extend_from_slice(&tag[..TAG_LEN]);
        if let Ok(p) = parse(&signed, &key) {
            prop_assert_eq!(emit(&p, &key), signed);
        }
    }

    #[test]
    fn mutations_are_rejected_or_identical(
        p in arb_packet(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..), 1..4),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let key = Key::dev();
        let original = emit(&p, &key);
        let mut bytes = original.clone();
        for (at, xor) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= xor;
        }
        if do_cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        // Flips at one index may cancel out; any real change must be refused.
        prop_assert!(bytes == original || parse(&bytes, &key).is_err());
    }
}
