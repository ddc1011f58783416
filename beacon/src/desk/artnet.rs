//! Art-Net datagrams through the `artnet_protocol` crate: ArtDmx → [`DmxFrame`], ArtPoll →
//! an ArtPollReply so that desks list the beacon as a node. OpTimeCode is recognised and
//! ignored (see docs/venue.md: timecode is not wired to cues).
//!
//! The crate takes every byte after the ArtDmx header as data; the length field (2–512, even)
//! is checked here and the data cut to it.

use std::net::{IpAddr, Ipv4Addr};

use artnet_protocol::{ArtCommand, PollReply};

use super::frame::{DmxFrame, Protocol, Refusal, SourceId, UNIVERSE_SLOTS};

/// UDP port of Art-Net.
pub const PORT: u16 = 6454;
/// Largest datagram we accept: an ArtDmx with 512 slots (18 + 512); an ArtPollReply is 239.
pub const MAX_DATAGRAM: usize = 18 + UNIVERSE_SLOTS;
/// Highest 15-bit port-address.
pub const MAX_PORT_ADDRESS: u16 = 0x7fff;

/// What an Art-Net datagram asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtnetInput {
    /// Levels.
    Dmx(DmxFrame),
    /// A controller polls: answer with [`poll_reply`].
    Poll,
    /// Valid, but nothing for us (timecode, other nodes' replies, sync, ...).
    Ignored,
}

/// Parses one datagram from `from`; ArtDmx gets the fixed `priority` (Art-Net has none).
pub fn parse(bytes: &[u8], from: IpAddr, priority: u8) -> Result<ArtnetInput, Refusal> {
    if bytes.len() > MAX_DATAGRAM {
        return Err(Refusal::Oversized);
    }
    match ArtCommand::from_buffer(bytes).map_err(|_| Refusal::Malformed)? {
        ArtCommand::Output(out) => {
            let length = usize::from(*out.length);
            let data = out.data.as_ref();
            if !(1..=UNIVERSE_SLOTS).contains(&length) || data.len() < length {
                return Err(Refusal::Malformed);
            }
            Ok(ArtnetInput::Dmx(DmxFrame {
                protocol: Protocol::Artnet,
                source: SourceId::Address(from),
                name: String::new(),
                priority,
                sequence: out.sequence,
                terminated: false,
                universe: u16::from(out.port_address),
                slots: data[..length].to_vec(),
            }))
        }
        ArtCommand::Poll(_) => Ok(ArtnetInput::Poll),
        _ => Ok(ArtnetInput::Ignored),
    }
}

/// The ArtPollReply of a one-output node on `port_address` at `address` (Art-Net 4 §ArtPollReply:
/// NetSwitch/SubSwitch in `port_address`, the low nibble in `swout[0]`). `replies` is the
/// node report's counter.
pub fn poll_reply(address: Ipv4Addr, port_address: u16, replies: u32) -> Vec<u8> {
    let mut reply = PollReply {
        address,
        port: PORT,
        version: [0, 1],
        port_address: [
            ((port_address >> 8) & 0x7f) as u8,
            ((port_address >> 4) & 0x0f) as u8,
        ],
        num_ports: [0, 1],
        port_types: [0x80, 0, 0, 0],  // output port, DMX512
        good_output: [0x80, 0, 0, 0], // data being output
        swout: [(port_address & 0x0f) as u8, 0, 0, 0],
        status_1: 0xd0, // indicators normal, port-address programmed by network
        ..PollReply::default()
    };
    copy_name(&mut reply.short_name, "Crowdlight");
    copy_name(&mut reply.long_name, "Crowdlight beacon (audience phones)");
    copy_name(&mut reply.node_report, &format!("#0001 [{replies:04}] OK"));
    ArtCommand::PollReply(Box::new(reply))
        .write_to_buffer()
        .unwrap_or_default()
}

fn copy_name(field: &mut [u8], text: &str) {
    let n = text.len().min(field.len() - 1);
    field[..n].copy_from_slice(&text.as_bytes()[..n]);
}

/// Encodes an ArtDmx (tests and the bench's scripted desk).
pub fn encode(sequence: u8, port_address: u16, slots: &[u8]) -> Vec<u8> {
    let output = artnet_protocol::Output {
        sequence,
        port_address: artnet_protocol::PortAddress::try_from(port_address & MAX_PORT_ADDRESS)
            .unwrap_or_else(|_| 0.into()),
        data: slots.to_vec().into(),
        ..Default::default()
    };
    ArtCommand::Output(output)
        .write_to_buffer()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FROM: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn art_dmx_hex_vector() {
        let bytes = encode(5, 0x0123, &[0xff, 0x10]);
        assert_eq!(
            hex::encode(&bytes),
            "4172742d4e657400005000 0e 05 00 2301 0002 ff10".replace(' ', "")
        );
        let ArtnetInput::Dmx(f) = parse(&bytes, FROM, 100).unwrap() else {
            panic!("not dmx")
        };
        assert_eq!((f.universe, f.sequence, f.priority), (0x0123, 5, 100));
        assert_eq!(f.slots, vec![0xff, 0x10]);
    }

    #[test]
    fn poll_gets_a_reply_naming_the_port() {
        let poll = ArtCommand::Poll(artnet_protocol::Poll::default())
            .write_to_buffer()
            .unwrap();
        assert_eq!(parse(&poll, FROM, 100), Ok(ArtnetInput::Poll));
        let reply = poll_reply(Ipv4Addr::LOCALHOST, 0x0123, 1);
        let ArtCommand::PollReply(r) = ArtCommand::from_buffer(&reply).unwrap() else {
            panic!("not a reply")
        };
        assert_eq!(r.port_address, [0x01, 0x02]);
        assert_eq!(r.swout[0], 0x03);
        assert!(r.short_name.starts_with(b"Crowdlight\0"));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(b"Art-Net\0", FROM, 100), Err(Refusal::Malformed));
        assert_eq!(parse(&[0; 600], FROM, 100), Err(Refusal::Oversized));
        let mut short = encode(1, 1, &[1, 2, 3, 4]);
        short[17] = 8; // length says 8, 4 present
        assert_eq!(parse(&short, FROM, 100), Err(Refusal::Malformed));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
            let _ = parse(&bytes, FROM, 100);
        }

        #[test]
        fn round_trip(seq: u8, pa in 0u16..=0x7fff, slots in proptest::collection::vec(any::<u8>(), 1..=512)) {
            let ArtnetInput::Dmx(f) = parse(&encode(seq, pa, &slots), FROM, 7).unwrap() else {
                panic!("not dmx")
            };
            // Odd lengths are padded by one zero slot on the wire.
            let mut want = slots.clone();
            if want.len() % 2 == 1 { want.push(0); }
            prop_assert_eq!((f.sequence, f.universe, f.slots), (seq, pa, want));
        }
    }
}
