//! Sans-IO captive DNS policy: raw query bytes in, raw response bytes out.
//!
//! Parsing and encoding use hickory-server's request pipeline (`Request::from_bytes`,
//! `MessageResponseBuilder`, hickory-proto 0.26.3). Advisories considered:
//! RUSTSEC-2023-0041 (a server answering *response* messages can be driven into a packet loop:
//! we drop every message with QR=1) and RUSTSEC-2026-0119 (O(n²) name compression when encoding
//! large messages, fixed in 0.26.1: we additionally never echo more than one question and
//! answer with at most [`crate::config::MAX_DNS_ADDRESSES`] records). This module decides what
//! to answer:
//! - every `A` query → the configured IPv4 addresses (the portal, or several relays), rotated
//!   by one on every query so that phones spread over the relays (TTL configurable);
//! - `AAAA` → empty NOERROR, or the configured IPv6 addresses (rotated the same way);
//! - anything else → empty NOERROR;
//! - malformed messages → FORMERR when a header could be read, else dropped; always counted.
//!
//! In *release* mode `dns.msftncsi.com` gets Microsoft's expected answer so Windows reports
//! "connected" (see `captive` for the HTTP side).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Edns, Header, MessageType, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA};
use hickory_server::proto::rr::{DNSClass, RData, Record, RecordType};
use hickory_server::proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hickory_server::server::Request;
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};

/// Largest UDP payload we advertise in our EDNS OPT record (RFC 9715 / DNS flag day 2020).
pub const EDNS_PAYLOAD: u16 = 1232;

/// What the captive DNS answers.
#[derive(Clone, Debug)]
pub struct DnsPolicy {
    /// Addresses every `A` query resolves to (the portal, or several relays), rotated per query.
    pub ipv4: Vec<Ipv4Addr>,
    /// Addresses `AAAA` queries resolve to, rotated; empty = empty NOERROR (keeps phones on IPv4).
    pub ipv6: Vec<Ipv6Addr>,
    /// TTL of every answer, seconds.
    pub ttl: u32,
}

impl Default for DnsPolicy {
    fn default() -> Self {
        Self {
            ipv4: vec![Ipv4Addr::LOCALHOST],
            ipv6: Vec::new(),
            ttl: 10,
        }
    }
}

/// Counters for `/metrics`; all relaxed atomics, shared with the socket loops.
#[derive(Debug, Default)]
pub struct DnsCounters {
    /// Well-formed queries answered (any type).
    pub queries: AtomicU64,
    /// `A` queries answered with the portal address.
    pub answered_a: AtomicU64,
    /// `AAAA` queries (answered or empty).
    pub answered_aaaa: AtomicU64,
    /// Other types, answered empty NOERROR.
    pub answered_other: AtomicU64,
    /// Messages answered FORMERR (unparseable body, not exactly one question).
    pub formerr: AtomicU64,
    /// Messages dropped without answer (shorter than a header, or a response).
    pub dropped: AtomicU64,
    /// Non-query opcodes answered NOTIMP.
    pub notimp: AtomicU64,
    /// EDNS versions other than 0 answered BADVERS.
    pub badvers: AtomicU64,
    /// TCP connections closed for a timeout, oversize or I/O error.
    pub tcp_errors: AtomicU64,
    /// UDP queries dropped unanswered because their source address exceeded its rate.
    pub rate_limited: AtomicU64,
    /// TCP connections closed at once because their source address held too many.
    pub tcp_refused: AtomicU64,
}

impl DnsCounters {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// The captive DNS responder (sans-IO). Cheap to clone (shares counters and the release flag).
#[derive(Clone, Debug)]
pub struct CaptiveDns {
    policy: Arc<DnsPolicy>,
    release: Arc<AtomicBool>,
    counters: Arc<DnsCounters>,
    /// Rotation of the answer lists: bumped once per answered A or AAAA query.
    turn: Arc<AtomicUsize>,
}

/// Windows' NCSI DNS probe name and the addresses it expects when online.
const MSFT_NCSI_NAME: &str = "dns.msftncsi.com.";
const MSFT_NCSI_V4: Ipv4Addr = Ipv4Addr::new(131, 107, 255, 255);
const MSFT_NCSI_V6: Ipv6Addr = Ipv6Addr::new(0xfd3e, 0x4f5a, 0x5b81, 0, 0, 0, 0, 1);

impl CaptiveDns {
    /// A responder with `policy`; `release` switches probe names to their "online" answers.
    pub fn new(policy: DnsPolicy, release: Arc<AtomicBool>) -> Self {
        Self {
            policy: Arc::new(policy),
            release,
            counters: Arc::default(),
            turn: Arc::default(),
        }
    }

    /// Shared counters.
    pub fn counters(&self) -> &Arc<DnsCounters> {
        &self.counters
    }

    /// Answers one DNS message (`raw` without the TCP length prefix). `None` = drop silently.
    pub fn handle_message(
        &self,
        raw: &[u8],
        src: SocketAddr,
        protocol: Protocol,
    ) -> Option<Vec<u8>> {
        let c = &self.counters;
        let mut decoder = BinDecoder::new(raw);
        let Ok(header) = Header::read(&mut decoder) else {
            DnsCounters::bump(&c.dropped);
            tracing::debug!(%src, len = raw.len(), "dns: dropped message shorter than a header");
            return None;
        };
        if header.metadata.message_type == MessageType::Response {
            DnsCounters::bump(&c.dropped);
            tracing::debug!(%src, "dns: dropped a response message (reflection guard)");
            return None;
        }
        let request = match Request::from_bytes(raw.to_vec(), src, protocol) {
            Ok(r) => r,
            Err(error) => {
                DnsCounters::bump(&c.formerr);
                tracing::debug!(%src, %error, "dns: malformed query, FORMERR");
                let queries = empty_queries()?;
                let resp = MessageResponseBuilder::new(&queries, None)
                    .error_msg(&header.metadata, ResponseCode::FormErr);
                return encode(resp, 512);
            }
        };
        let udp_max = match protocol {
            Protocol::Udp => request.max_payload().min(EDNS_PAYLOAD),
            _ => u16::MAX,
        };
        // Echo the question section only when it is a single question (see module docs).
        let no_queries = empty_queries()?;
        let echo = if request.queries.len() == 1 {
            &request.queries
        } else {
            &no_queries
        };
        let mut edns_out = Edns::new();
        edns_out.set_max_payload(EDNS_PAYLOAD).set_version(0);
        let edns = request.edns.as_ref().map(|_| &edns_out);

        if request.metadata.op_code != OpCode::Query {
            DnsCounters::bump(&c.notimp);
            let resp = MessageResponseBuilder::new(echo, edns)
                .error_msg(&request.metadata, ResponseCode::NotImp);
            return encode(resp, udp_max);
        }
        if request.version() != 0 {
            DnsCounters::bump(&c.badvers);
            let resp = MessageResponseBuilder::new(echo, edns)
                .error_msg(&request.metadata, ResponseCode::BADVERS);
            return encode(resp, udp_max);
        }
        let [query] = request.queries.queries() else {
            DnsCounters::bump(&c.formerr);
            let resp = MessageResponseBuilder::new(echo, edns)
                .error_msg(&request.metadata, ResponseCode::FormErr);
            return encode(resp, udp_max);
        };
        DnsCounters::bump(&c.queries);

        let name = query.original().name().clone();
        let lower = query.name().to_string();
        let release = self.release.load(Ordering::Relaxed);
        let is_ncsi = release && lower.eq_ignore_ascii_case(MSFT_NCSI_NAME);
        let class_in = query.query_class() == DNSClass::IN;
        let mut answers: Vec<RData> = match query.query_type() {
            RecordType::A => {
                DnsCounters::bump(&c.answered_a);
                if is_ncsi {
                    vec![RData::A(A(MSFT_NCSI_V4))]
                } else {
                    self.rotated(&self.policy.ipv4, |ip| RData::A(A(ip)))
                }
            }
            RecordType::AAAA => {
                DnsCounters::bump(&c.answered_aaaa);
                if is_ncsi {
                    vec![RData::AAAA(AAAA(MSFT_NCSI_V6))]
                } else {
                    self.rotated(&self.policy.ipv6, |ip| RData::AAAA(AAAA(ip)))
                }
            }
            _ => {
                DnsCounters::bump(&c.answered_other);
                Vec::new()
            }
        };
        if !class_in {
            answers.clear();
        }
        let answers: Vec<Record> = answers
            .into_iter()
            .map(|r| Record::from_rdata(name.clone(), self.policy.ttl, r))
            .collect();
        let mut meta = Metadata::response_from_request(&request.metadata);
        meta.authoritative = true;
        meta.recursion_available = true;
        let resp = MessageResponseBuilder::new(&request.queries, edns).build(
            meta,
            answers.iter(),
            None,
            None,
            None,
        );
        match encode(resp, udp_max) {
            Some(bytes) => Some(bytes),
            None => {
                // Did not fit (huge name in a small UDP payload): header + question, TC set.
                let mut meta = Metadata::response_from_request(&request.metadata);
                meta.truncation = true;
                let resp =
                    MessageResponseBuilder::new(&request.queries, edns).build_no_records(meta);
                encode(resp, u16::MAX)
            }
        }
    }
}

impl CaptiveDns {
    /// `list` as records, starting one further along on every call (round robin).
    fn rotated<T: Copy>(&self, list: &[T], record: impl Fn(T) -> RData) -> Vec<RData> {
        if list.is_empty() {
            return Vec::new();
        }
        let first = self.turn.fetch_add(1, Ordering::Relaxed) % list.len();
        list[first..]
            .iter()
            .chain(&list[..first])
            .map(|&ip| record(ip))
            .collect()
    }
}

fn empty_queries() -> Option<Queries> {
    Queries::read(&mut BinDecoder::new(&[]), 0).ok()
}

fn encode<'a>(
    resp: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    max: u16,
) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(128);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(max.max(512));
    match resp.destructive_emit(&mut encoder) {
        Ok(_) => {
            // A record that did not fit is rolled back by moving the encoder's offset, not by
            // shortening the buffer: the message ends at the offset.
            let len = encoder.offset();
            bytes.truncate(len);
            Some(bytes)
        }
        Err(error) => {
            tracing::debug!(%error, "dns: response did not encode");
            None
        }
    }
}
