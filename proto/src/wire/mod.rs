//! The beacon wire format: one signed UDP datagram carrying the show id, boot id, sequence
//! number, the beacon clock and the current cue state.
//!
//! Layout (all of it ≤ [`MAX_PACKET`] bytes):
//!
//! ```text
//! +-------+---------+---------------------------------------------+-----------------+
//! | "CL"  | version | postcard(Packet)                            | tag (16 bytes)  |
//! | 2 B   | 1 B     | show[16] boot seq clock_us state next live  | HMAC-SHA256/128 |
//! +-------+---------+---------------------------------------------+-----------------+
//!
//! live = 0 (none) | 1 at_us fade_us n (zone r g b){n}     n ≤ MAX_LIVE_ZONES, varints
//! ```
//!
//! `live` is the lighting desk's layer: the zones the desk holds (by index into the show's
//! `zones`) and their colours; from `at_us` phones fade linearly from the previous layer's
//! colours to these over `fade_us` (0: a cut at `at_us`); an empty list releases every zone
//! (at `at_us`). The beacon sends it only
//! once the desk held something since it started.
//!
//! The tag is HMAC-SHA256 with the venue [`Key`] over every byte before it, truncated to its
//! first 16 bytes. Integers in the body are postcard varints; names are capped at
//! [`MAX_NAME`] bytes so that the worst case packet still fits (see `worst_case_fits`).

mod key;

pub use key::{Key, KeyError};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Largest datagram the beacon ever sends.
pub const MAX_PACKET: usize = 600;
/// Most zones in one live layer.
pub const MAX_LIVE_ZONES: usize = 64;
/// Largest cue name on the wire, in bytes; longer names are cut at a char boundary by `emit`
/// and refused by `parse`.
pub const MAX_NAME: usize = 64;
/// The two magic bytes every packet starts with.
pub const MAGIC: [u8; 2] = *b"CL";
/// The only wire version this build speaks.
pub const VERSION: u8 = 2;
/// Length of the magic + version header.
pub const HEADER_LEN: usize = 3;
/// Length of the truncated HMAC tag.
pub const TAG_LEN: usize = 16;

/// Show identifier: the first 16 bytes of the SHA-256 of the compiled show
/// (the same type as `shows::ShowId`). All zeros means "no show loaded".
pub type ShowId = [u8; 16];

/// The show id sent when no show is loaded.
pub const NO_SHOW: ShowId = [0; 16];

/// The cue state the beacon announces. Times are µs in the beacon timebase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum State {
    /// Nothing plays.
    Stopped,
    /// A cue is armed; phones may prepare it. Nothing plays yet.
    Standby {
        /// The armed cue.
        cue: String,
    },
    /// A cue plays; its time 0 is at `start_us` (may be in the future: GO lead time).
    Running {
        /// The playing cue.
        cue: String,
        /// Cue time 0, µs in the beacon timebase.
        start_us: u64,
    },
    /// A cue is frozen `offset_us` into its timeline.
    Hold {
        /// The held cue.
        cue: String,
        /// The start it had while running.
        start_us: u64,
        /// Frozen position, µs into the cue.
        offset_us: u64,
    },
    /// Everything dark, now.
    Blackout,
}

impl State {
    /// The lowercase name used in JSON (`stopped`, `standby`, `running`, `hold`, `blackout`).
    pub fn name(&self) -> &'static str {
        match self {
            State::Stopped => "stopped",
            State::Standby { .. } => "standby",
            State::Running { .. } => "running",
            State::Hold { .. } => "hold",
            State::Blackout => "blackout",
        }
    }

    /// The cue this state refers to, if any.
    pub fn cue(&self) -> Option<&str> {
        match self {
            State::Standby { cue } | State::Running { cue, .. } | State::Hold { cue, .. } => {
                Some(cue)
            }
            State::Stopped | State::Blackout => None,
        }
    }

    /// The cue start, µs, for running and hold.
    pub fn start_us(&self) -> Option<u64> {
        match self {
            State::Running { start_us, .. } | State::Hold { start_us, .. } => Some(*start_us),
            _ => None,
        }
    }

    /// The frozen offset, µs, in hold.
    pub fn offset_us(&self) -> Option<u64> {
        match self {
            State::Hold { offset_us, .. } => Some(*offset_us),
            _ => None,
        }
    }

    fn cue_mut(&mut self) -> Option<&mut String> {
        match self {
            State::Standby { cue } | State::Running { cue, .. } | State::Hold { cue, .. } => {
                Some(cue)
            }
            State::Stopped | State::Blackout => None,
        }
    }
}

/// One beacon announcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Packet {
    /// The loaded show ([`NO_SHOW`] when none).
    pub show: ShowId,
    /// Random per daemon start.
    pub boot: u64,
    /// Increases by one per packet within a boot.
    pub seq: u64,
    /// The beacon clock when the packet was made, µs in the beacon timebase.
    pub clock_us: u64,
    /// What plays.
    pub state: State,
    /// The cue a bare `go` would fire (the armed GO target), if any.
    pub next: Option<String>,
    /// The lighting desk's live layer, once the desk held a zone since the beacon started.
    pub live: Option<LiveLayer>,
}

/// The zones a lighting desk holds, and when phones show them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LiveLayer {
    /// Beacon time the change starts, µs (every phone knows the layer by then).
    pub at_us: u64,
    /// Length of the linear fade from the previous layer, µs, starting at `at_us` (0: a cut).
    pub fade_us: u64,
    /// Held zones, ascending by index; at most [`MAX_LIVE_ZONES`].
    pub zones: Vec<LiveZone>,
}

/// One held zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LiveZone {
    /// Index into the show's `zones`.
    pub zone: u8,
    /// Red, green, blue.
    pub rgb: [u8; 3],
}

/// Why bytes are not a valid packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Shorter than header + tag.
    #[error("packet too short: {0} bytes")]
    TooShort(usize),
    /// Longer than [`MAX_PACKET`].
    #[error("packet too long: {0} bytes")]
    TooLong(usize),
    /// Does not start with [`MAGIC`].
    #[error("bad magic")]
    BadMagic,
    /// A version this build does not know.
    #[error("unknown wire version {0}")]
    UnknownVersion(u8),
    /// The tag does not verify with our key.
    #[error("authentication tag does not verify")]
    BadTag,
    /// The authenticated body does not decode.
    #[error("malformed body: {0}")]
    Body(String),
    /// Bytes left over after the body.
    #[error("{0} trailing bytes after the body")]
    TrailingBytes(usize),
    /// A cue name longer than [`MAX_NAME`].
    #[error("cue name of {0} bytes exceeds {MAX_NAME}")]
    NameTooLong(usize),
    /// A live layer with more than [`MAX_LIVE_ZONES`] zones.
    #[error("live layer of {0} zones exceeds {MAX_LIVE_ZONES}")]
    TooManyLiveZones(usize),
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &Key, signed: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(signed);
    mac
}

/// Cuts `name` to at most [`MAX_NAME`] bytes at a char boundary.
pub fn cap_name(name: &mut String) {
    if name.len() > MAX_NAME {
        let mut end = MAX_NAME;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
}

fn names_fit(packet: &Packet) -> bool {
    packet.state.cue().is_none_or(|c| c.len() <= MAX_NAME)
        && packet.next.as_ref().is_none_or(|c| c.len() <= MAX_NAME)
        && packet
            .live
            .as_ref()
            .is_none_or(|l| l.zones.len() <= MAX_LIVE_ZONES)
}

/// Encodes and signs `packet`. Names longer than [`MAX_NAME`] are cut (and live layers to
/// [`MAX_LIVE_ZONES`] zones), so the result is always ≤ [`MAX_PACKET`] bytes.
pub fn emit(packet: &Packet, key: &Key) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_PACKET);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    let body = if names_fit(packet) {
        postcard::to_extend(packet, out)
    } else {
        let mut capped = packet.clone();
        if let Some(cue) = capped.state.cue_mut() {
            cap_name(cue);
        }
        if let Some(next) = capped.next.as_mut() {
            cap_name(next);
        }
        if let Some(live) = capped.live.as_mut() {
            live.zones.truncate(MAX_LIVE_ZONES);
        }
        postcard::to_extend(&capped, out)
    };
    let mut out = body.expect("serializing into a Vec cannot fail");
    let tag = mac(key, &out).finalize().into_bytes();
    out.extend_from_slice(&tag[..TAG_LEN]);
    debug_assert!(out.len() <= MAX_PACKET);
    out
}

/// Verifies and decodes one datagram. Never panics, whatever the bytes.
///
/// Checks, in order: length, magic, version, tag, body (fully consumed, names ≤ [`MAX_NAME`]).
pub fn parse(bytes: &[u8], key: &Key) -> Result<Packet, WireError> {
    if bytes.len() < HEADER_LEN + TAG_LEN {
        return Err(WireError::TooShort(bytes.len()));
    }
    if bytes.len() > MAX_PACKET {
        return Err(WireError::TooLong(bytes.len()));
    }
    if bytes[..2] != MAGIC {
        return Err(WireError::BadMagic);
    }
    if bytes[2] != VERSION {
        return Err(WireError::UnknownVersion(bytes[2]));
    }
    let (signed, tag) = bytes.split_at(bytes.len() - TAG_LEN);
    mac(key, signed)
        .verify_truncated_left(tag)
        .map_err(|_| WireError::BadTag)?;
    let (packet, rest): (Packet, &[u8]) = postcard::take_from_bytes(&signed[HEADER_LEN..])
        .map_err(|e| WireError::Body(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes(rest.len()));
    }
    for name in packet.state.cue().into_iter().chain(packet.next.as_deref()) {
        if name.len() > MAX_NAME {
            return Err(WireError::NameTooLong(name.len()));
        }
    }
    if let Some(live) = &packet.live
        && live.zones.len() > MAX_LIVE_ZONES
    {
        return Err(WireError::TooManyLiveZones(live.zones.len()));
    }
    Ok(packet)
}

#[cfg(test)]
mod tests;
