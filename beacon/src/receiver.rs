//! Sans-IO receiver: decides which beacon datagrams to believe and counts the rest by reason.
//!
//! A packet is accepted when its tag verifies with the venue key, its version is known and it
//! is newer than the packet held: same boot id and a higher sequence number, or a new boot id
//! whose clock is not behind the held clock by more than [`NEW_BOOT_BOUND_US`]. Boot ids seen
//! before and replaced are remembered (the last [`RETIRED_BOOTS`]) and refused as replays.
//!
//! Liveness after a backward clock step on the beacon box: a new boot that is refused as stale
//! [`STALE_TAKEOVER`] times in a row, with rising sequence numbers and no packet accepted in
//! between (the held boot has gone silent), is accepted. A boot seen before never takes over.

use crate::wire::{self, Key, Packet, WireError};

/// How far behind the held clock a new boot's clock may be and still be accepted (2 s).
pub const NEW_BOOT_BOUND_US: u64 = 2_000_000;
/// How many replaced boot ids are remembered and refused.
pub const RETIRED_BOOTS: usize = 8;
/// Consecutive stale packets (5 s at 10 Hz) after which a new boot is accepted anyway.
pub const STALE_TAKEOVER: u32 = 50;

/// Why a datagram was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The tag does not verify (forged, corrupted or another key).
    #[error("bad tag")]
    BadTag,
    /// A wire version this build does not know.
    #[error("unknown version {0}")]
    Version(u8),
    /// Not a well-formed packet (too short/long, bad magic, body does not decode).
    #[error("garbled: {0}")]
    Garbled(WireError),
    /// Same boot and a sequence number not above the held one, or a retired boot.
    #[error("replay: boot {boot:016x} seq {seq} (holding seq {held_seq})")]
    Replay {
        /// Boot id of the refused packet.
        boot: u64,
        /// Its sequence number.
        seq: u64,
        /// The sequence number held for that boot (0 for a retired boot).
        held_seq: u64,
    },
    /// A new boot whose clock is too far behind the held one.
    #[error("stale: new boot {boot:016x} is {behind_us} µs behind")]
    Stale {
        /// Boot id of the refused packet.
        boot: u64,
        /// Its sequence number.
        seq: u64,
        /// How far its clock is behind the held clock.
        behind_us: u64,
    },
}

/// Counts of accepted and rejected datagrams, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RejectCounters {
    /// Accepted packets.
    pub accepted: u64,
    /// Tag did not verify.
    pub bad_tag: u64,
    /// Same boot, not newer; or a retired boot.
    pub replay: u64,
    /// New boot too far behind.
    pub stale: u64,
    /// Malformed datagram.
    pub garbled: u64,
    /// Unknown wire version.
    pub version: u64,
}

/// The sans-IO receiver: feed it datagrams, read the current packet.
#[derive(Debug)]
pub struct Receiver {
    key: Key,
    current: Option<Packet>,
    retired: Vec<u64>,
    /// (boot, seq, count) of the current run of stale rejections.
    stale_run: Option<(u64, u64, u32)>,
    counters: RejectCounters,
}

impl Receiver {
    /// A receiver holding nothing yet.
    pub fn new(key: Key) -> Self {
        Receiver {
            key,
            current: None,
            retired: Vec::new(),
            stale_run: None,
            counters: RejectCounters::default(),
        }
    }

    /// Checks one datagram; on acceptance it becomes the current packet and is returned.
    pub fn handle_datagram(&mut self, bytes: &[u8]) -> Result<&Packet, Rejection> {
        match self.check(bytes) {
            Ok(packet) => {
                self.counters.accepted += 1;
                self.stale_run = None;
                if let Some(old) = &self.current
                    && old.boot != packet.boot
                {
                    if self.retired.len() == RETIRED_BOOTS {
                        self.retired.remove(0);
                    }
                    self.retired.push(old.boot);
                }
                Ok(self.current.insert(packet))
            }
            Err(rejection) => {
                let counter = match rejection {
                    Rejection::BadTag => &mut self.counters.bad_tag,
                    Rejection::Version(_) => &mut self.counters.version,
                    Rejection::Garbled(_) => &mut self.counters.garbled,
                    Rejection::Replay { .. } => &mut self.counters.replay,
                    Rejection::Stale { .. } => &mut self.counters.stale,
                };
                if let Rejection::Stale { boot, seq, .. } = rejection {
                    self.stale_run = match self.stale_run {
                        Some((b, s, n)) if b == boot && s < seq => Some((boot, seq, n + 1)),
                        _ => Some((boot, seq, 1)),
                    };
                }
                *counter += 1;
                Err(rejection)
            }
        }
    }

    fn check(&self, bytes: &[u8]) -> Result<Packet, Rejection> {
        let packet = wire::parse(bytes, &self.key).map_err(|e| match e {
            WireError::BadTag => Rejection::BadTag,
            WireError::UnknownVersion(v) => Rejection::Version(v),
            other => Rejection::Garbled(other),
        })?;
        if self.retired.contains(&packet.boot) {
            return Err(Rejection::Replay {
                boot: packet.boot,
                seq: packet.seq,
                held_seq: 0,
            });
        }
        let Some(held) = &self.current else {
            return Ok(packet);
        };
        if held.boot == packet.boot {
            if packet.seq <= held.seq {
                return Err(Rejection::Replay {
                    boot: packet.boot,
                    seq: packet.seq,
                    held_seq: held.seq,
                });
            }
        } else {
            let behind_us = held.clock_us.saturating_sub(packet.clock_us);
            let takeover = self.stale_run.is_some_and(|(boot, seq, n)| {
                boot == packet.boot && seq < packet.seq && n + 1 >= STALE_TAKEOVER
            });
            if behind_us > NEW_BOOT_BOUND_US && !takeover {
                return Err(Rejection::Stale {
                    boot: packet.boot,
                    seq: packet.seq,
                    behind_us,
                });
            }
        }
        Ok(packet)
    }

    /// The last accepted packet.
    pub fn current(&self) -> Option<&Packet> {
        self.current.as_ref()
    }

    /// Counters by outcome.
    pub fn counters(&self) -> &RejectCounters {
        &self.counters
    }
}

#[cfg(test)]
mod tests;
