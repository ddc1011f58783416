//! sACN (ANSI E1.31-2018) datagrams → [`DmxFrame`], through the `sacn` crate's packet parser.
//!
//! The crate's receiver owns blocking std sockets (and joins groups itself); the beacon keeps
//! one tokio task and its own socket, so only `sacn::packet::AcnRootLayerProtocol::parse` is
//! used: it checks the root layer (preamble, ACN id, vectors, PDU lengths), the framing layer
//! (source name, priority, sequence, options, universe) and the DMP layer (address type,
//! first address 0, increment 1, count ≤ 513). What it leaves to receivers is checked here:
//! priority ≤ 200, universe 1–63999, start code 0 (other start codes, e.g. ETC's 0xDD
//! per-address priority, are ignored, not refused), preview data ignored (E1.31 §6.2.6).
//! Universe synchronization is not used: each data packet applies when it arrives (the live
//! layer is coalesced and scheduled ahead anyway, so a sync packet would change nothing).
//!
//! The crate's parser panics on some hostile inputs (sacn 0.11.1: a framing-layer PDU length
//! shorter than its header slices `buf[77..length]`; found by `corrupted_bytes` below), so
//! [`check_lengths`] first checks the three PDU lengths against the datagram (E1.31 requires
//! them to match exactly) and passes only data packets on; extended packets (universe sync
//! and discovery) carry nothing the beacon uses and are ignored before the crate sees them.
//!
//! ```text
//!  0      16         22     38        44            108  109  111 112  113     115   117 118 119 121 123   125
//!  | pre/post/ACN id | flen | vec=4 | CID | flen | vec=2 | source name | prio | sync | seq | opt | universe |
//!  | dmp flen | 0x02 | 0xa1 | first=0 | incr=1 | count | start code | slots… (≤ 512)
//! ```

use sacn::packet::{AcnRootLayerProtocol, E131RootLayerData};

use super::frame::{DmxFrame, Protocol, Refusal, SourceId, UNIVERSE_SLOTS};

/// UDP port of sACN.
pub const PORT: u16 = 5568;
/// Largest sACN datagram (a universe discovery packet with 512 universes); a full data packet
/// is 638 bytes.
pub const MAX_DATAGRAM: usize = 1144;
/// Highest valid priority.
pub const MAX_PRIORITY: u8 = 200;
/// Highest valid data universe.
pub const MAX_UNIVERSE: u16 = 63_999;

/// The multicast group of `universe`: 239.255.{hi}.{lo}.
pub fn group(universe: u16) -> std::net::Ipv4Addr {
    let [hi, lo] = universe.to_be_bytes();
    std::net::Ipv4Addr::new(239, 255, hi, lo)
}

/// Parses one datagram: `Ok(None)` for valid packets that carry no levels for us
/// (synchronization, discovery, preview, non-zero start code).
pub fn parse(bytes: &[u8]) -> Result<Option<DmxFrame>, Refusal> {
    if bytes.len() > MAX_DATAGRAM {
        return Err(Refusal::Oversized);
    }
    if !check_lengths(bytes)? {
        return Ok(None);
    }
    let packet = AcnRootLayerProtocol::parse(bytes).map_err(|_| Refusal::Malformed)?;
    let cid = *packet.pdu.cid.as_bytes();
    let E131RootLayerData::DataPacket(data) = packet.pdu.data else {
        return Ok(None);
    };
    if data.priority > MAX_PRIORITY || data.universe == 0 || data.universe > MAX_UNIVERSE {
        return Err(Refusal::Malformed);
    }
    let values = &data.data.property_values;
    let Some((&start_code, slots)) = values.split_first() else {
        return Err(Refusal::Malformed);
    };
    if slots.len() > UNIVERSE_SLOTS {
        return Err(Refusal::Oversized);
    }
    if data.preview_data || start_code != 0 {
        return Ok(None);
    }
    Ok(Some(DmxFrame {
        protocol: Protocol::Sacn,
        source: SourceId::Cid(cid),
        name: data.source_name.chars().take(64).collect(),
        priority: data.priority,
        sequence: data.sequence_number,
        terminated: data.stream_terminated,
        universe: data.universe,
        slots: slots.to_vec(),
    }))
}

/// Offsets of the root, framing and DMP layers' flags-and-length fields of a data packet.
const LAYERS: [usize; 3] = [16, 38, 115];
/// Header bytes of a data packet before the start code.
const DATA_HEADER: usize = 125;
const ROOT_VECTOR_DATA: u32 = 4;
const ROOT_VECTOR_EXTENDED: u32 = 8;
const FRAMING_VECTOR_DATA: u32 = 2;

/// `Ok(true)` for a data packet whose PDU lengths all match the datagram, `Ok(false)` for a
/// well-framed extended packet (sync, discovery), `Err` otherwise.
fn check_lengths(bytes: &[u8]) -> Result<bool, Refusal> {
    let u32_at = |i: usize| {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let pdu_len = |i: usize| {
        bytes
            .get(i..i + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]) & 0x0fff))
    };
    let root_ok = pdu_len(16) == Some(bytes.len().saturating_sub(16));
    match u32_at(18) {
        Some(ROOT_VECTOR_EXTENDED) if root_ok => return Ok(false),
        Some(ROOT_VECTOR_DATA) => {}
        _ => return Err(Refusal::Malformed),
    }
    if bytes.len() <= DATA_HEADER
        || u32_at(40) != Some(FRAMING_VECTOR_DATA)
        || LAYERS.iter().any(|&i| pdu_len(i) != Some(bytes.len() - i))
    {
        return Err(Refusal::Malformed);
    }
    Ok(true)
}

/// Encodes an E1.31 data packet (for tests and the bench's scripted desk): root, framing and
/// DMP layers with start code 0.
pub fn encode(
    cid: [u8; 16],
    name: &str,
    priority: u8,
    sequence: u8,
    terminated: bool,
    universe: u16,
    slots: &[u8],
) -> Vec<u8> {
    let n = slots.len().min(UNIVERSE_SLOTS);
    let dmp_len = 10 + 1 + n;
    let framing_len = 77 + dmp_len;
    let root_len = 22 + framing_len;
    let mut out = Vec::with_capacity(16 + root_len);
    out.extend_from_slice(&[0x00, 0x10, 0x00, 0x00]);
    out.extend_from_slice(b"ASC-E1.17\0\0\0");
    out.extend_from_slice(&(0x7000 | root_len as u16).to_be_bytes());
    out.extend_from_slice(&4u32.to_be_bytes());
    out.extend_from_slice(&cid);
    out.extend_from_slice(&(0x7000 | framing_len as u16).to_be_bytes());
    out.extend_from_slice(&2u32.to_be_bytes());
    let mut source_name = [0u8; 64];
    let name = &name.as_bytes()[..name.len().min(63)];
    source_name[..name.len()].copy_from_slice(name);
    out.extend_from_slice(&source_name);
    out.push(priority);
    out.extend_from_slice(&0u16.to_be_bytes());
    out.push(sequence);
    out.push(if terminated { 0x40 } else { 0 });
    out.extend_from_slice(&universe.to_be_bytes());
    out.extend_from_slice(&(0x7000 | dmp_len as u16).to_be_bytes());
    out.push(0x02);
    out.push(0xa1);
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(1 + n as u16).to_be_bytes());
    out.push(0);
    out.extend_from_slice(&slots[..n]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn groups() {
        assert_eq!(group(1), std::net::Ipv4Addr::new(239, 255, 0, 1));
        assert_eq!(group(63_999), std::net::Ipv4Addr::new(239, 255, 249, 255));
    }

    #[test]
    fn full_packet_is_638_bytes_and_parses() {
        let bytes = encode([7; 16], "desk", 100, 9, false, 1, &[1; 512]);
        assert_eq!(bytes.len(), 638);
        let f = parse(&bytes).unwrap().unwrap();
        assert_eq!((f.priority, f.sequence, f.universe), (100, 9, 1));
        assert_eq!(f.name, "desk");
        assert_eq!(f.slots.len(), 512);
        assert_eq!(f.source, SourceId::Cid([7; 16]));
    }

    #[test]
    fn refusals() {
        let good = encode([7; 16], "desk", 100, 9, false, 1, &[1, 2, 3]);
        assert!(parse(&good).unwrap().is_some());
        assert_eq!(parse(&good[..40]), Err(Refusal::Malformed));
        assert_eq!(parse(&[0u8; 2000]), Err(Refusal::Oversized));
        assert_eq!(
            parse(&encode([7; 16], "d", 201, 0, false, 1, &[1])),
            Err(Refusal::Malformed)
        );
        assert_eq!(
            parse(&encode([7; 16], "d", 100, 0, false, 0, &[1])),
            Err(Refusal::Malformed)
        );
        let mut preview = good.clone();
        preview[112] |= 0x80;
        assert_eq!(parse(&preview), Ok(None));
        let mut priority_code = good.clone();
        priority_code[125] = 0xdd;
        assert_eq!(parse(&priority_code), Ok(None));
        let mut terminated = good;
        terminated[112] |= 0x40;
        assert!(parse(&terminated).unwrap().unwrap().terminated);
    }

    /// The bytes of a minimal packet, by hand (E1.31-2018 Table 4-1 offsets).
    #[test]
    fn hex_vector() {
        let bytes = encode([0xab; 16], "A", 150, 3, false, 0x0102, &[0xff, 0x00, 0x80]);
        assert_eq!(bytes.len(), 129);
        assert_eq!(&bytes[0..16], b"\x00\x10\x00\x00ASC-E1.17\x00\x00\x00");
        assert_eq!(&bytes[16..18], &[0x70, 0x71]); // root flags+length 113
        assert_eq!(&bytes[18..22], &[0, 0, 0, 4]);
        assert_eq!(&bytes[38..40], &[0x70, 0x5b]); // framing flags+length 91
        assert_eq!(bytes[44], b'A');
        assert_eq!(bytes[108], 150); // priority
        assert_eq!(bytes[111], 3); // sequence
        assert_eq!(&bytes[113..115], &[0x01, 0x02]); // universe
        assert_eq!(&bytes[115..117], &[0x70, 0x0e]); // DMP flags+length 14
        assert_eq!(&bytes[117..119], &[0x02, 0xa1]);
        assert_eq!(&bytes[123..125], &[0x00, 0x04]); // count = 1 + 3 slots
        assert_eq!(&bytes[125..], &[0x00, 0xff, 0x00, 0x80]);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1300)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn round_trip(cid in any::<[u8; 16]>(), priority in 0u8..=200, seq: u8, term: bool,
                      universe in 1u16..=63_999,
                      slots in proptest::collection::vec(any::<u8>(), 0..=512),
                      name in "[a-zA-Z0-9 ]{0,63}") {
            let f = parse(&encode(cid, &name, priority, seq, term, universe, &slots)).unwrap().unwrap();
            prop_assert_eq!(f, DmxFrame {
                protocol: Protocol::Sacn, source: SourceId::Cid(cid), name, priority,
                sequence: seq, terminated: term, universe, slots,
            });
        }

        /// Any single corrupted byte is either refused, ignored, or still a well-formed frame.
        #[test]
        fn corrupted_bytes(i in 0usize..130, b: u8, j in 0usize..130, c: u8) {
            let mut bytes = encode([1; 16], "x", 100, 1, false, 1, &[1, 2, 3, 4, 5]);
            if i < bytes.len() { bytes[i] = b; }
            if j < bytes.len() { bytes[j] = c; }
            if let Ok(Some(f)) = parse(&bytes) {
                prop_assert!(f.priority <= 200 && f.slots.len() <= 512 && f.universe >= 1);
            }
        }
    }
}
