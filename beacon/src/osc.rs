//! OSC input, sans-IO: turns one OSC datagram (a message or a bundle) into operator
//! [`Request`]s, the same requests the Unix socket carries. The daemon's UDP loop lives in
//! `daemon::osc`.
//!
//! Addresses (exact, case-sensitive):
//!
//! | address | arguments | request |
//! | --- | --- | --- |
//! | `/crowdlight/go` | none, or a cue name (string) | `go [cue]` |
//! | `/crowdlight/standby` | a cue name (string) | `standby cue` |
//! | `/crowdlight/hold` | none | `hold` |
//! | `/crowdlight/resume` | none | `resume` |
//! | `/crowdlight/blackout` | none | `blackout` |
//! | `/crowdlight/stop` | none | `stop` |
//!
//! Button surfaces (TouchOSC, many desks) send one number on press (non-zero) and another on
//! release (zero): a single numeric or boolean argument fires the command when it is non-zero
//! and is ignored when it is zero. A bundle's messages are applied in order, at once (time
//! tags are ignored); a bundle with one bad message is refused whole.
//!
//! OSC carries no authentication: the daemon's allowlist (`osc-allow`) trusts source IP
//! addresses, which anyone on the same network can forge in a UDP datagram. The OSC input
//! belongs on the control (show) LAN only, bound to an address the audience network cannot
//! reach, with the port firewalled to the desks.

use rosc::{OscMessage, OscPacket, OscType};

use crate::operator_messages::Request;

/// The address prefix of every Crowdlight OSC command.
pub const PREFIX: &str = "/crowdlight/";

/// Why an OSC datagram was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OscError {
    /// Not a decodable OSC packet.
    #[error("not an OSC packet: {0}")]
    Decode(String),
    /// An address this beacon does not know.
    #[error(
        "unknown OSC address {0:?} (known: /crowdlight/go, standby, hold, resume, blackout, stop)"
    )]
    UnknownAddress(String),
    /// The arguments do not fit the address.
    #[error("{address}: {reason}")]
    Arguments {
        /// The OSC address.
        address: String,
        /// Which argument is missing or of the wrong type.
        reason: String,
    },
}

/// Decodes one UDP datagram into the requests it carries, in order (a button release
/// carries none).
pub fn decode_datagram(bytes: &[u8]) -> Result<Vec<Request>, OscError> {
    let (_, packet) =
        rosc::decoder::decode_udp(bytes).map_err(|e| OscError::Decode(format!("{e:?}")))?;
    let mut out = Vec::new();
    collect(&packet, &mut out)?;
    Ok(out)
}

fn collect(packet: &OscPacket, out: &mut Vec<Request>) -> Result<(), OscError> {
    match packet {
        OscPacket::Message(m) => {
            if let Some(request) = request_of(m)? {
                out.push(request);
            }
            Ok(())
        }
        OscPacket::Bundle(b) => b.content.iter().try_for_each(|p| collect(p, out)),
    }
}

/// A numeric/boolean "button" argument: `Some(true)` pressed, `Some(false)` released.
fn button(arg: &OscType) -> Option<bool> {
    match arg {
        OscType::Int(v) => Some(*v != 0),
        OscType::Long(v) => Some(*v != 0),
        OscType::Float(v) => Some(*v != 0.0),
        OscType::Double(v) => Some(*v != 0.0),
        OscType::Bool(v) => Some(*v),
        _ => None,
    }
}

fn request_of(m: &OscMessage) -> Result<Option<Request>, OscError> {
    let bad = |reason: &str| OscError::Arguments {
        address: m.addr.clone(),
        reason: reason.to_owned(),
    };
    let verb = m
        .addr
        .strip_prefix(PREFIX)
        .ok_or_else(|| OscError::UnknownAddress(m.addr.clone()))?;
    let simple = |request: Request| -> Result<Option<Request>, OscError> {
        match m.args.as_slice() {
            [] => Ok(Some(request)),
            [arg] => match button(arg) {
                Some(true) => Ok(Some(request)),
                Some(false) => Ok(None),
                None => Err(bad("takes no argument (or one number: non-zero fires)")),
            },
            _ => Err(bad("takes no argument (or one number: non-zero fires)")),
        }
    };
    match verb {
        "go" => match m.args.as_slice() {
            [OscType::String(cue)] => Ok(Some(Request::Go {
                cue: Some(cue_name(cue).map_err(|r| bad(&r))?),
            })),
            _ => simple(Request::Go { cue: None })
                .map_err(|_| bad("takes no argument or one cue name (string)")),
        },
        "standby" => match m.args.as_slice() {
            [OscType::String(cue)] => Ok(Some(Request::Standby {
                cue: cue_name(cue).map_err(|r| bad(&r))?,
            })),
            _ => Err(bad("takes one cue name (string)")),
        },
        "hold" => simple(Request::Hold),
        "resume" => simple(Request::Resume),
        "blackout" => simple(Request::Blackout),
        "stop" => simple(Request::Stop),
        _ => Err(OscError::UnknownAddress(m.addr.clone())),
    }
}

fn cue_name(cue: &str) -> Result<String, String> {
    let cue = cue.trim();
    if cue.is_empty() {
        return Err("empty cue name".into());
    }
    if cue.len() > crate::wire::MAX_NAME {
        return Err(format!(
            "cue name longer than {} bytes",
            crate::wire::MAX_NAME
        ));
    }
    Ok(cue.to_owned())
}

/// Encodes one OSC message (for tests and tools that drive the beacon).
pub fn encode_message(address: &str, args: Vec<OscType>) -> Vec<u8> {
    rosc::encoder::encode(&OscPacket::Message(OscMessage {
        addr: address.to_owned(),
        args,
    }))
    .expect("an OSC message with a plain address encodes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rosc::{OscBundle, OscTime};

    fn s(v: &str) -> OscType {
        OscType::String(v.into())
    }

    #[test]
    fn every_address_maps_to_its_request() {
        let cases = [
            ("/crowdlight/go", vec![], Request::Go { cue: None }),
            (
                "/crowdlight/go",
                vec![s("finale")],
                Request::Go {
                    cue: Some("finale".into()),
                },
            ),
            (
                "/crowdlight/standby",
                vec![s("intro")],
                Request::Standby {
                    cue: "intro".into(),
                },
            ),
            ("/crowdlight/hold", vec![], Request::Hold),
            (
                "/crowdlight/resume",
                vec![OscType::Float(1.0)],
                Request::Resume,
            ),
            (
                "/crowdlight/blackout",
                vec![OscType::Int(1)],
                Request::Blackout,
            ),
            ("/crowdlight/stop", vec![OscType::Bool(true)], Request::Stop),
        ];
        for (addr, args, want) in cases {
            let got = decode_datagram(&encode_message(addr, args)).unwrap();
            assert_eq!(got, vec![want], "{addr}");
        }
    }

    #[test]
    fn button_release_does_nothing() {
        for arg in [OscType::Float(0.0), OscType::Int(0), OscType::Bool(false)] {
            let got = decode_datagram(&encode_message("/crowdlight/go", vec![arg])).unwrap();
            assert!(got.is_empty());
        }
    }

    #[test]
    fn bad_messages_are_refused_with_a_reason() {
        let unknown = decode_datagram(&encode_message("/crowdlight/dance", vec![])).unwrap_err();
        assert!(matches!(unknown, OscError::UnknownAddress(_)), "{unknown}");
        let foreign = decode_datagram(&encode_message("/cue/1/go", vec![])).unwrap_err();
        assert!(matches!(foreign, OscError::UnknownAddress(_)));
        for (addr, args) in [
            ("/crowdlight/standby", vec![]),
            ("/crowdlight/standby", vec![OscType::Int(3)]),
            ("/crowdlight/go", vec![s("a"), s("b")]),
            ("/crowdlight/go", vec![s("  ")]),
            ("/crowdlight/hold", vec![s("x")]),
            ("/crowdlight/go", vec![s(&"x".repeat(65))]),
        ] {
            let e = decode_datagram(&encode_message(addr, args)).unwrap_err();
            assert!(matches!(e, OscError::Arguments { .. }), "{addr}: {e}");
        }
        for garbage in [&b""[..], b"hello", b"/crowdlight/go\0\0", &[0xff; 40]] {
            assert!(matches!(decode_datagram(garbage), Err(OscError::Decode(_))));
        }
    }

    #[test]
    fn bundles_apply_in_order_or_not_at_all() {
        let msg = |addr: &str, args| {
            OscPacket::Message(OscMessage {
                addr: addr.into(),
                args,
            })
        };
        let bundle = |content| {
            rosc::encoder::encode(&OscPacket::Bundle(OscBundle {
                timetag: OscTime::from((0, 1)),
                content,
            }))
            .unwrap()
        };
        let ok = bundle(vec![
            msg("/crowdlight/standby", vec![s("b")]),
            msg("/crowdlight/go", vec![]),
        ]);
        assert_eq!(
            decode_datagram(&ok).unwrap(),
            vec![
                Request::Standby { cue: "b".into() },
                Request::Go { cue: None }
            ]
        );
        let bad = bundle(vec![
            msg("/crowdlight/stop", vec![]),
            msg("/crowdlight/nope", vec![]),
        ]);
        assert!(decode_datagram(&bad).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_datagram(&bytes);
        }

        #[test]
        fn mutated_valid_packets_never_panic(
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            cut in any::<usize>(),
        ) {
            let mut bytes = encode_message("/crowdlight/go", vec![s("finale")]);
            for (i, b) in flips {
                let n = bytes.len();
                bytes[i % n] = b;
            }
            let keep = cut % (bytes.len() + 1);
            let _ = decode_datagram(&bytes[..keep]);
        }
    }
}
