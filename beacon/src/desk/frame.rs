//! One DMX frame as the desk core sees it, whatever protocol carried it.

use std::net::IpAddr;

/// Slots in one DMX universe.
pub const UNIVERSE_SLOTS: usize = 512;

/// The protocol a frame arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// ANSI E1.31 (sACN), UDP 5568.
    Sacn,
    /// Art-Net ArtDmx, UDP 6454.
    Artnet,
}

impl Protocol {
    /// Lowercase name for logs, JSON and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Sacn => "sacn",
            Protocol::Artnet => "artnet",
        }
    }
}

/// Who sent a frame: sACN sources are their CID (a desk keeps it across IP changes); Art-Net
/// has no source id, so a source is its IP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceId {
    /// sACN component id.
    Cid([u8; 16]),
    /// Art-Net sender address.
    Address(IpAddr),
}

/// DMX level data from one source for one universe (start code 0 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmxFrame {
    /// The protocol.
    pub protocol: Protocol,
    /// Who sent it.
    pub source: SourceId,
    /// The source's name (sACN source name; Art-Net: empty).
    pub name: String,
    /// sACN priority 0–200 (Art-Net: the configured fixed priority).
    pub priority: u8,
    /// Sequence number; Art-Net 0 means "not sequenced".
    pub sequence: u8,
    /// sACN stream-terminated option: the source is gone.
    pub terminated: bool,
    /// sACN universe, or Art-Net 15-bit port-address.
    pub universe: u16,
    /// Slot values, slot 1 first, at most [`UNIVERSE_SLOTS`].
    pub slots: Vec<u8>,
}

/// Why a datagram was refused (each reason is counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Refusal {
    /// Not a valid packet of the protocol.
    #[error("malformed")]
    Malformed,
    /// Longer than any valid packet of the protocol.
    #[error("oversized")]
    Oversized,
    /// Data for a universe we do not listen to.
    #[error("foreign universe")]
    ForeignUniverse,
    /// Out of sequence (E1.31 §6.7.2: −20 < new − last ≤ 0).
    #[error("out of sequence")]
    Sequence,
    /// The sender is not in `desk-allow`.
    #[error("sender not allowed")]
    Denied,
    /// More sources at once than the beacon tracks.
    #[error("too many sources")]
    TooManySources,
}

impl Refusal {
    /// Every reason, in the order of [`Refusal::index`].
    pub const ALL: [Refusal; 6] = [
        Refusal::Malformed,
        Refusal::Oversized,
        Refusal::ForeignUniverse,
        Refusal::Sequence,
        Refusal::Denied,
        Refusal::TooManySources,
    ];

    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::Oversized => "oversized",
            Refusal::ForeignUniverse => "foreign_universe",
            Refusal::Sequence => "sequence",
            Refusal::Denied => "denied",
            Refusal::TooManySources => "too_many_sources",
        }
    }

    /// Position in [`Refusal::ALL`].
    pub fn index(self) -> usize {
        Refusal::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}
