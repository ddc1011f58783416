//! DNS over real UDP and TCP sockets on loopback: answers, EDNS, case, and raw malformed bytes.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use portal::dns::{CaptiveDns, DnsPolicy, DnsTcpLimits, serve_tcp, serve_udp};
use portal::shutdown::{Shutdown, shutdown_pair};

const A: u16 = 1;
const AAAA: u16 = 28;
const TXT: u16 = 16;

/// Starts DNS in-process on port 0 (UDP and TCP on the same port) in a background runtime.
fn start(
    policy: DnsPolicy,
    release: bool,
) -> (SocketAddr, CaptiveDns, portal::shutdown::ShutdownTrigger) {
    let dns = CaptiveDns::new(policy, Arc::new(AtomicBool::new(release)));
    let (trigger, shutdown) = shutdown_pair();
    let (tx, rx) = std::sync::mpsc::channel();
    let d = dns.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            // UDP and TCP on the same free port (retry if TCP's half is taken).
            let (udp, tcp, addr) = loop {
                let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
                let addr = udp.local_addr().unwrap();
                if let Ok(tcp) = tokio::net::TcpListener::bind(addr).await {
                    break (udp, tcp, addr);
                }
            };
            tx.send(addr).unwrap();
            let s2: Shutdown = shutdown.clone();
            tokio::join!(
                serve_udp(udp, d.clone(), shutdown),
                serve_tcp(tcp, d, DnsTcpLimits::default(), s2)
            );
        });
    });
    (rx.recv().unwrap(), dns, trigger)
}

fn policy() -> DnsPolicy {
    DnsPolicy {
        ipv4: Ipv4Addr::new(10, 77, 0, 1),
        ipv6: None,
        ttl: 10,
    }
}

#[test]
fn a_queries_get_the_portal_address_over_udp_and_tcp() {
    let (addr, _, _t) = start(policy(), false);
    for name in [
        "captive.apple.com",
        "CONNECTIVITYCHECK.GStatic.com",
        "www.msftconnecttest.com",
        "x.y.z.example",
    ] {
        for exchange in [udp_exchange, tcp_exchange] {
            let raw = exchange(addr, &dns_query(0xbeef, name, A, None)).expect("answer");
            let r = parse_dns(&raw);
            assert_eq!((r.id, r.rcode, r.ancount), (0xbeef, 0, 1), "{name}");
            assert_eq!(r.answers[0], (A, 10, vec![10, 77, 0, 1]));
            assert!(r.flags & 0x8000 != 0, "QR set");
            // The question is echoed with the client's case (0x20 randomisation survives).
            let q = qname(name);
            assert_eq!(&raw[12..12 + q.len()], &q[..]);
        }
    }
}

#[test]
fn aaaa_is_empty_noerror_by_default_and_configurable() {
    let (addr, _, _t) = start(policy(), false);
    let r = parse_dns(&udp_exchange(addr, &dns_query(1, "a.example", AAAA, None)).unwrap());
    assert_eq!((r.rcode, r.ancount), (0, 0));
    let v6: Ipv6Addr = "fd00::77".parse().unwrap();
    let (addr, _, _t2) = start(
        DnsPolicy {
            ipv6: Some(v6),
            ..policy()
        },
        false,
    );
    let r = parse_dns(&tcp_exchange(addr, &dns_query(2, "a.example", AAAA, None)).unwrap());
    assert_eq!(r.ancount, 1);
    assert_eq!(r.answers[0].2, v6.octets().to_vec());
}

#[test]
fn other_types_are_empty_noerror_and_ttl_is_configurable() {
    let (addr, _, _t) = start(
        DnsPolicy {
            ttl: 42,
            ..policy()
        },
        false,
    );
    let r = parse_dns(&udp_exchange(addr, &dns_query(3, "example.org", TXT, None)).unwrap());
    assert_eq!((r.rcode, r.ancount), (0, 0));
    let r = parse_dns(&udp_exchange(addr, &dns_query(4, "example.org", A, None)).unwrap());
    assert_eq!(r.answers[0].1, 42);
}

#[test]
fn edns_is_answered_with_an_opt_record_and_badvers() {
    let (addr, dns, _t) = start(policy(), false);
    let r = parse_dns(&udp_exchange(addr, &dns_query(5, "example.org", A, Some(0))).unwrap());
    assert_eq!((r.rcode, r.ancount, r.arcount), (0, 1, 1));
    let raw = udp_exchange(addr, &dns_query(6, "example.org", A, Some(1))).unwrap();
    let r = parse_dns(&raw);
    // BADVERS = 16: low 4 bits 0 in the header, high bits (1) in the OPT TTL's first byte.
    assert_eq!((r.rcode, r.ancount, r.arcount), (0, 0, 1));
    let opt_ttl_hi = raw[raw.len() - 6];
    assert_eq!(opt_ttl_hi, 1, "extended rcode in OPT");
    assert_eq!(dns.counters().badvers.load(Ordering::Relaxed), 1);
}

#[test]
fn release_mode_answers_the_windows_ncsi_dns_probe() {
    let (addr, _, _t) = start(policy(), true);
    let r = parse_dns(&udp_exchange(addr, &dns_query(7, "dns.msftncsi.com", A, None)).unwrap());
    assert_eq!(r.answers[0].2, vec![131, 107, 255, 255]);
    let r = parse_dns(&udp_exchange(addr, &dns_query(8, "other.example", A, None)).unwrap());
    assert_eq!(r.answers[0].2, vec![10, 77, 0, 1]);
}

/// Raw malformed messages: each is answered FORMERR or dropped, counted, and the server keeps
/// answering afterwards.
#[test]
fn malformed_bytes_get_formerr_or_are_dropped_and_counted() {
    let (addr, dns, _t) = start(policy(), false);
    let header = |qd: u16| {
        let mut h = vec![0xab, 0xcd, 0x01, 0x00];
        h.extend_from_slice(&qd.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        h
    };
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("short", vec![1, 2, 3]),
        ("header only, claims a question", header(1)),
        ("truncated question", {
            let mut m = header(1);
            m.extend_from_slice(&[7, b'e', b'x']);
            m
        }),
        ("compression loop", {
            let mut m = header(1);
            m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
            m
        }),
        ("pointer forward", {
            let mut m = header(1);
            m.extend_from_slice(&[0xc0, 0xff, 0, 1, 0, 1]);
            m
        }),
        ("label over 63", {
            let mut m = header(1);
            m.push(64);
            m.extend(std::iter::repeat_n(b'a', 64));
            m.extend_from_slice(&[0, 0, 1, 0, 1]);
            m
        }),
        ("name over 255", {
            let mut m = header(1);
            for _ in 0..5 {
                m.push(63);
                m.extend(std::iter::repeat_n(b'a', 63));
            }
            m.extend_from_slice(&[0, 0, 1, 0, 1]);
            m
        }),
        ("65535 questions", {
            let mut m = header(0xffff);
            m.extend_from_slice(&qname("a.b"));
            m.extend_from_slice(&[0, 1, 0, 1]);
            m
        }),
        ("two questions", {
            let mut m = header(2);
            for _ in 0..2 {
                m.extend_from_slice(&qname("a.b"));
                m.extend_from_slice(&[0, 1, 0, 1]);
            }
            m
        }),
        ("zero questions", header(0)),
        ("a response", {
            let mut m = dns_query(9, "a.b", A, None);
            m[2] |= 0x80;
            m
        }),
        (
            "garbage",
            (0..300u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
    ];
    cases.push(("notify opcode", {
        let mut m = dns_query(10, "a.b", A, None);
        m[2] = 0x20;
        m
    }));
    for (what, msg) in &cases {
        for (proto, reply) in [
            ("udp", udp_exchange(addr, msg)),
            (
                "tcp",
                if msg.is_empty() {
                    None
                } else {
                    tcp_exchange(addr, msg)
                },
            ),
        ] {
            if let Some(raw) = reply {
                let r = parse_dns(&raw);
                assert!(
                    matches!(r.rcode, 1 | 4),
                    "{what}/{proto}: rcode {} (want FORMERR or NOTIMP)",
                    r.rcode
                );
                assert_eq!(r.ancount, 0, "{what}/{proto}");
                assert!(
                    r.qdcount <= 1,
                    "{what}/{proto}: never echo more than one question"
                );
            }
        }
    }
    let c = dns.counters();
    let bad = c.formerr.load(Ordering::Relaxed)
        + c.dropped.load(Ordering::Relaxed)
        + c.notimp.load(Ordering::Relaxed);
    assert!(
        bad >= cases.len() as u64,
        "every malformed message counted ({bad})"
    );
    assert!(c.formerr.load(Ordering::Relaxed) > 0 && c.dropped.load(Ordering::Relaxed) > 0);
    // Still healthy.
    let r = parse_dns(&udp_exchange(addr, &dns_query(11, "still.alive", A, None)).unwrap());
    assert_eq!(r.ancount, 1);
}

#[test]
fn tcp_slow_and_oversized_frames_are_closed_without_hurting_udp() {
    use std::io::{Read, Write};
    let (addr, _, _t) = start(policy(), false);
    // A frame that announces 65535 bytes and sends 3, then stalls; and a peer that sends
    // half a length prefix. Neither blocks other clients.
    let mut stall = std::net::TcpStream::connect(addr).unwrap();
    stall.write_all(&[0xff, 0xff, 1, 2, 3]).unwrap();
    let mut half = std::net::TcpStream::connect(addr).unwrap();
    half.write_all(&[0x00]).unwrap();
    let r = parse_dns(&tcp_exchange(addr, &dns_query(12, "a.b", A, None)).unwrap());
    assert_eq!(r.ancount, 1);
    let r = parse_dns(&udp_exchange(addr, &dns_query(13, "a.b", A, None)).unwrap());
    assert_eq!(r.ancount, 1);
    // Pipelined queries on one connection are all answered in order.
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut frames = Vec::new();
    for id in 20..25u16 {
        let q = dns_query(id, "p.example", A, None);
        frames.extend_from_slice(&(q.len() as u16).to_be_bytes());
        frames.extend_from_slice(&q);
    }
    s.write_all(&frames).unwrap();
    for id in 20..25u16 {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut m = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut m).unwrap();
        assert_eq!(parse_dns(&m).id, id);
    }
}

mod fuzz {
    use super::*;
    use hickory_server::net::xfer::Protocol;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Arbitrary bytes never panic; any answer is a response to the same id.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let dns = CaptiveDns::new(policy(), Arc::new(AtomicBool::new(false)));
            let src: SocketAddr = "127.0.0.1:5353".parse().unwrap();
            if let Some(out) = dns.handle_message(&bytes, src, Protocol::Udp) {
                prop_assert!(out.len() >= 12);
                prop_assert_eq!(&out[..2], &bytes[..2]);
                prop_assert!(out[2] & 0x80 != 0);
            }
        }

        /// Mutated valid queries never panic either.
        #[test]
        fn mutated_queries_never_panic(i in 0usize..40, b in any::<u8>(), cut in 0usize..40) {
            let dns = CaptiveDns::new(policy(), Arc::new(AtomicBool::new(false)));
            let mut q = dns_query(1, "captive.apple.com", A, Some(0));
            let i = i % q.len();
            q[i] = b;
            q.truncate(q.len() - cut.min(q.len()));
            let _ = dns.handle_message(&q, "127.0.0.1:5353".parse().unwrap(), Protocol::Tcp);
        }
    }
}
