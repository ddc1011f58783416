//! DNS over real UDP and TCP sockets on loopback: answers, EDNS, case, and raw malformed bytes.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use portal::dns::{CaptiveDns, DnsPolicy, DnsTcpLimits, DnsUdpLimits, serve_tcp, serve_udp};
use portal::shutdown::{Shutdown, shutdown_pair};

const A: u16 = 1;
const AAAA: u16 = 28;
const TXT: u16 = 16;

/// Starts DNS in-process on port 0 (UDP and TCP on the same port) in a background runtime.
fn start(
    policy: DnsPolicy,
    release: bool,
) -> (SocketAddr, CaptiveDns, portal::shutdown::ShutdownTrigger) {
    start_limited(
        policy,
        release,
        DnsUdpLimits::default(),
        DnsTcpLimits::default(),
    )
}

/// [`start`] with explicit per-address limits.
fn start_limited(
    policy: DnsPolicy,
    release: bool,
    udp_limits: DnsUdpLimits,
    tcp_limits: DnsTcpLimits,
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
                serve_udp(udp, d.clone(), udp_limits, shutdown),
                serve_tcp(tcp, d, tcp_limits, s2)
            );
        });
    });
    (rx.recv().unwrap(), dns, trigger)
}

fn policy() -> DnsPolicy {
    DnsPolicy {
        ipv4: vec![Ipv4Addr::new(10, 77, 0, 1)],
        ipv6: Vec::new(),
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
            ipv6: vec![v6],
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

/// Skips one resource record (name, type, class, TTL, rdata) starting at `i`.
fn skip_record(m: &[u8], i: usize) -> usize {
    let mut i = i;
    // Name: labels, ending in a zero byte or a compression pointer.
    loop {
        let b = m[i];
        if b == 0 {
            i += 1;
            break;
        }
        if b & 0xc0 == 0xc0 {
            i += 2;
            break;
        }
        i += 1 + usize::from(b);
    }
    let rdlen = usize::from(u16::from_be_bytes([m[i + 8], m[i + 9]]));
    i + 10 + rdlen
}

/// A truncated (TC) answer ends with its last whole record: no bytes of a record that did
/// not fit follow it.
#[test]
fn truncated_answers_end_after_the_last_whole_record() {
    let many: Vec<Ipv4Addr> = (1..=16).map(|i| Ipv4Addr::new(10, 77, 0, i)).collect();
    let (addr, _, _t) = start(
        DnsPolicy {
            ipv4: many,
            ..policy()
        },
        false,
    );
    // A 250-byte name, no EDNS: 12 + 254 + 16 × 16 bytes do not fit in 512.
    let label = "a".repeat(61);
    let name = format!("{label}.{label}.{label}.{label}");
    let raw = udp_exchange(addr, &dns_query(0x7c00, &name, A, None)).expect("answer");
    let r = parse_dns(&raw);
    assert!(r.flags & 0x0200 != 0, "TC set");
    assert!(raw.len() <= 512, "{}", raw.len());
    assert!(r.ancount < 16, "{}", r.ancount);
    let mut end = 12 + qname(&name).len() + 4;
    for _ in 0..r.ancount + r.arcount {
        end = skip_record(&raw, end);
    }
    assert_eq!(
        raw.len(),
        end,
        "{} trailing bytes after the last record",
        raw.len() as isize - end as isize
    );
    // Over TCP the whole answer fits.
    let r = parse_dns(&tcp_exchange(addr, &dns_query(0x7c01, &name, A, None)).unwrap());
    assert_eq!((r.flags & 0x0200, r.ancount), (0, 16));
}

#[test]
fn several_addresses_are_answered_in_rotating_order() {
    let two = vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)];
    let v6: Vec<Ipv6Addr> = vec!["fd00::2".parse().unwrap(), "fd00::3".parse().unwrap()];
    let (addr, _, _t) = start(
        DnsPolicy {
            ipv4: two,
            ipv6: v6,
            ..policy()
        },
        false,
    );
    for qtype in [A, AAAA] {
        let mut orders = std::collections::BTreeSet::new();
        for id in 0..4u16 {
            let r = parse_dns(
                &udp_exchange(addr, &dns_query(id, "show.venue.lan", qtype, None)).unwrap(),
            );
            assert_eq!(r.ancount, 2);
            let order: Vec<Vec<u8>> = r.answers.iter().map(|a| a.2.clone()).collect();
            orders.insert(order);
        }
        assert_eq!(
            orders.len(),
            2,
            "both orders seen for type {qtype}: {orders:?}"
        );
    }
    // Consecutive A queries alternate the first address.
    let first = |id| {
        parse_dns(&udp_exchange(addr, &dns_query(id, "x.lan", A, None)).unwrap()).answers[0]
            .2
            .clone()
    };
    assert_ne!(first(10), first(11));
}

/// One address flooding UDP is dropped past its rate and counted; another address is
/// answered meanwhile.
#[test]
fn a_udp_flood_from_one_address_is_rate_limited_and_counted() {
    let (addr, dns, _t) = start_limited(
        policy(),
        false,
        DnsUdpLimits {
            rate_per_address: 10,
            exempt: vec!["127.0.0.3".parse().unwrap()],
        },
        DnsTcpLimits::default(),
    );
    let flooder = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let q = dns_query(1, "flood.example", A, None);
    for _ in 0..200 {
        flooder.send_to(&q, addr).unwrap();
    }
    let limited = poll_until(std::time::Duration::from_secs(10), || {
        let n = dns.counters().rate_limited.load(Ordering::Relaxed);
        (n >= 150).then_some(n)
    })
    .expect("flood counted as rate limited");
    assert!(limited <= 180, "{limited}");
    // Another source, and an exempt one, are still answered.
    for src in ["127.0.0.2:0", "127.0.0.3:0"] {
        let s = std::net::UdpSocket::bind(src).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        for _ in 0..15 {
            s.send_to(&dns_query(2, "phone.example", A, None), addr)
                .unwrap();
            let mut buf = [0u8; 512];
            let (n, _) = s.recv_from(&mut buf).expect("answered");
            assert_eq!(parse_dns(&buf[..n]).ancount, 1);
        }
    }
}

/// One address holding its TCP connections cannot take the slots of another.
#[test]
fn tcp_connections_are_capped_per_address() {
    use std::io::Read;
    let (addr, dns, _t) = start_limited(
        policy(),
        false,
        DnsUdpLimits::default(),
        DnsTcpLimits {
            max_connections: 10,
            max_per_address: 3,
            ..DnsTcpLimits::default()
        },
    );
    let connect_from = |ip: &str| {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.bind(&SocketAddr::new(ip.parse().unwrap(), 0).into())
            .unwrap();
        s.connect(&addr.into()).unwrap();
        std::net::TcpStream::from(s)
    };
    let held: Vec<_> = (0..3).map(|_| connect_from("127.0.0.1")).collect();
    // The fourth from the same address is closed at once (EOF), and counted.
    let mut extra = connect_from("127.0.0.1");
    extra
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(extra.read(&mut buf).map_err(|e| e.kind()), Ok(0));
    assert_eq!(dns.counters().tcp_refused.load(Ordering::Relaxed), 1);
    // Another address is served.
    let mut other = connect_from("127.0.0.2");
    let q = dns_query(7, "a.b", A, None);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    std::io::Write::write_all(&mut other, &framed).unwrap();
    let mut len = [0u8; 2];
    other.read_exact(&mut len).unwrap();
    let mut m = vec![0u8; u16::from_be_bytes(len) as usize];
    other.read_exact(&mut m).unwrap();
    assert_eq!(parse_dns(&m).ancount, 1);
    drop(held);
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
