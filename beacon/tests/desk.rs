//! The lighting desk input end to end on loopback: sACN and Art-Net datagrams from a scripted
//! desk (the protocol encoders of `beacon::desk`) to the real daemon. Cue triggers change the
//! multicast state through the operator command path; patched zones appear in the packets'
//! live layer; priority, HTP, stream-terminated, bad input. The real-OLA test is `desk_ola.rs`.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use beacon::desk::{artnet, sacn};
use common::{Daemon, Listener, fixture, random_port};
use crowdlight_proto::wire::{LiveZone, State};

struct Desk {
    socket: UdpSocket,
    sacn_port: u16,
    artnet_port: u16,
    seq: [u8; 256],
}

impl Desk {
    fn sacn(&mut self, cid: u8, priority: u8, pairs: &[(usize, u8)]) {
        self.seq[usize::from(cid)] = self.seq[usize::from(cid)].wrapping_add(1);
        let bytes = sacn::encode(
            [cid; 16],
            &format!("desk {cid}"),
            priority,
            self.seq[usize::from(cid)],
            false,
            1,
            &levels(pairs),
        );
        self.socket
            .send_to(&bytes, ("127.0.0.1", self.sacn_port))
            .unwrap();
    }

    fn raw(&self, bytes: &[u8]) {
        self.socket
            .send_to(bytes, ("127.0.0.1", self.sacn_port))
            .unwrap();
    }
}

fn levels(pairs: &[(usize, u8)]) -> Vec<u8> {
    let mut out = vec![0u8; 512];
    for (a, v) in pairs {
        out[a - 1] = *v;
    }
    out
}

fn desk_daemon() -> (Daemon, Desk) {
    let (sacn_port, artnet_port) = (random_port(), random_port());
    let d = Daemon::start_with(
        [
            "--show",
            fixture("show.toml").to_str().unwrap(),
            "--sacn",
            "1",
            "--artnet",
            "3",
            "--sacn-port",
            &sacn_port.to_string(),
            "--artnet-port",
            &artnet_port.to_string(),
            "--trigger-address",
            "1",
            "--control-address",
            "2",
            "--patch",
            "left=10",
            "--patch",
            "right=13:rgbd",
        ]
        .iter()
        .map(Into::into)
        .collect(),
    );
    let desk = Desk {
        socket: UdpSocket::bind("127.0.0.1:0").unwrap(),
        sacn_port,
        artnet_port,
        seq: [0; 256],
    };
    (d, desk)
}

/// Waits until `beacon status --json` satisfies `pred`.
fn wait_status(
    d: &Daemon,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = d.status();
        if pred(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {s}"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
}

#[test]
fn sacn_triggers_cues_and_holds_zones() {
    let (d, mut desk) = desk_daemon();
    let mut rx = Listener::join(d.port);
    // Trigger value 2: the show's second cue, "flash".
    desk.sacn(1, 100, &[(1, 2)]);
    rx.wait_for(
        "GO flash",
        |p| matches!(&p.state, State::Running { cue, .. } if cue == "flash"),
    );
    // Same value held (and a red zone): no second GO; the zone is live in the packets.
    desk.sacn(1, 100, &[(1, 2), (10, 255)]);
    let p = rx.wait_for("live left", |p| {
        p.live.as_ref().is_some_and(|l| {
            l.zones
                == [LiveZone {
                    zone: 0,
                    rgb: [255, 0, 0],
                }]
        })
    });
    let s = d.status();
    assert_eq!(s["desk"]["actions"], 1, "{s}");
    assert_eq!(s["desk"]["held"]["left"], "#ff0000");
    let source = &s["desk"]["sources"][0];
    assert_eq!(source["name"], "desk 1");
    assert_eq!(source["universe"], 1);
    assert_eq!(source["priority"], 100);
    assert_eq!(source["cid"], "01010101-0101-0101-0101-010101010101");
    assert!(source["accepted"].as_u64().unwrap() >= 2);
    let live = p.live.unwrap();
    assert_eq!(live.fade_us, 0, "a move after a quiet spell is a cut");
    assert!(live.at_us > p.clock_us, "scheduled ahead");

    // A higher-priority desk wins; at the same priority channels merge HTP.
    desk.sacn(2, 150, &[(1, 2), (11, 255)]);
    wait_status(&d, "priority 150 wins", |s| {
        s["desk"]["held"]["left"] == "#00ff00"
    });
    desk.sacn(3, 150, &[(1, 2), (12, 128)]);
    wait_status(&d, "HTP at 150", |s| s["desk"]["held"]["left"] == "#00ff80");
    // Stream terminated: back to the lower source at once.
    for cid in [2u8, 3] {
        desk.seq[usize::from(cid)] += 1;
        let end = sacn::encode(
            [cid; 16],
            "x",
            150,
            desk.seq[usize::from(cid)],
            true,
            1,
            &levels(&[]),
        );
        desk.raw(&end);
    }
    wait_status(&d, "back to priority 100", |s| {
        s["desk"]["held"]["left"] == "#ff0000"
    });

    // Bad input: counted, dropped, the show carries on.
    desk.raw(b"not sACN at all");
    desk.raw(&[0u8; 1400]);
    desk.raw(&sacn::encode(
        [1; 16],
        "desk 1",
        100,
        desk.seq[1].wrapping_add(1),
        false,
        2,
        &levels(&[(10, 1)]),
    ));
    desk.raw(&sacn::encode(
        [1; 16],
        "desk 1",
        100,
        desk.seq[1].wrapping_sub(3),
        false,
        1,
        &levels(&[(10, 1)]),
    ));
    let s = wait_status(&d, "refusals counted", |s| {
        let r = &s["desk"]["refused"];
        r["malformed"] == 1
            && r["oversized"] == 1
            && r["foreign_universe"] == 1
            && r["sequence"] == 1
    });
    assert_eq!(s["desk"]["held"]["left"], "#ff0000");
    assert_eq!(s["state"], "running");

    // Control channel: a change into 64-127 holds.
    desk.sacn(1, 100, &[(1, 2), (2, 100), (10, 255)]);
    rx.wait_for("hold", |p| matches!(p.state, State::Hold { .. }));

    // The desk goes silent: released after the 2.5 s timeout, published at once (not
    // coalesced), reached by phones after the lead (the engine tests bound it in time).
    let silent = Instant::now();
    let p = rx.wait_for("release", |p| {
        p.live.as_ref().is_some_and(|l| l.zones.is_empty())
    });
    let at = p.live.unwrap().at_us;
    assert!(at <= p.clock_us + 500_000);
    assert!(
        silent.elapsed() < Duration::from_secs(4),
        "{:?}",
        silent.elapsed()
    );
    let s = d.status();
    assert_eq!(s["desk"]["sources"][0]["live"], false);
    assert_eq!(s["desk"]["held"], serde_json::json!({}));
}

#[test]
fn artnet_dmx_and_poll_reply() {
    let (d, desk) = desk_daemon();
    let mut rx = Listener::join(d.port);
    // ArtPoll: the beacon answers as a node with our port-address.
    let poll = artnet_protocol::ArtCommand::Poll(artnet_protocol::Poll::default())
        .write_to_buffer()
        .unwrap();
    desk.socket
        .send_to(&poll, ("127.0.0.1", desk.artnet_port))
        .unwrap();
    desk.socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 1024];
    let (n, _) = desk.socket.recv_from(&mut buf).unwrap();
    let artnet_protocol::ArtCommand::PollReply(reply) =
        artnet_protocol::ArtCommand::from_buffer(&buf[..n]).unwrap()
    else {
        panic!("not an ArtPollReply")
    };
    assert_eq!(reply.swout[0], 3);
    // ArtDmx on port-address 3: the dimmer-patched zone "right" at half.
    let dmx = artnet::encode(1, 3, &levels(&[(13, 255), (16, 128)]));
    desk.socket
        .send_to(&dmx, ("127.0.0.1", desk.artnet_port))
        .unwrap();
    rx.wait_for("right live", |p| {
        p.live.as_ref().is_some_and(|l| {
            l.zones
                == [LiveZone {
                    zone: 1,
                    rgb: [128, 0, 0],
                }]
        })
    });
    // Another port-address is foreign.
    let other = artnet::encode(2, 4, &levels(&[(13, 255)]));
    desk.socket
        .send_to(&other, ("127.0.0.1", desk.artnet_port))
        .unwrap();
    let s = wait_status(&d, "foreign counted", |s| {
        s["desk"]["refused"]["foreign_universe"] == 1
    });
    assert_eq!(s["desk"]["poll_replies"], 1);
    assert_eq!(s["desk"]["sources"][0]["protocol"], "artnet");
    assert_eq!(s["desk"]["sources"][0]["priority"], 100);
    let text = d.ok(&["status"]);
    assert!(
        text.contains("desk: sACN universe 1, Art-Net port-address 3"),
        "{text}"
    );
    assert!(text.contains("holds right #800000"), "{text}");
}
