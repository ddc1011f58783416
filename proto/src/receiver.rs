//! Sans-IO receiver: decides which beacon datagrams to believe and counts the rest by reason.
//! Time is passed in: `now_us` is the receiver's own monotonic clock, µs (any origin).
//!
//! A packet is accepted when its tag verifies with the venue key, its version is known and it
//! is newer than the packet held:
//!
//! - same boot id: a higher sequence number;
//! - a new boot id (a restarted beacon): its clock must *continue* the beacon time the receiver
//!   holds, the way an NTP/PTP client judges a new server epoch. The receiver keeps an estimate
//!   of the beacon clock now — the last accepted packet's clock plus the local time elapsed
//!   since it arrived — and accepts the new boot only when its clock is after the newest
//!   accepted beacon time *and* not more than [`FRESH_US`] (plus [`DRIFT_PPM`] of the time
//!   elapsed, for the two clocks' rate difference) behind the estimate. A restart keeps the
//!   clock going (the beacon anchors its timebase to the wall clock at start), so its first
//!   packet is accepted at once.
//!
//! Boot ids seen before and replaced are remembered (the last [`RETIRED_BOOTS`]) and refused as
//! replays. The first valid packet is accepted as is (nothing to compare with).
//!
//! **Recordings never take over.** A recording of an earlier run carries beacon times of its
//! past: an older boot's clock is behind the newest accepted time; a copy of the held boot's
//! packets has sequence numbers already seen. Neither is ever accepted, however many arrive,
//! whether the live beacon is sending or has gone silent: the relay keeps the last good state.
//!
//! **A beacon whose clock was stepped back** (the box's wall clock moved backwards, then the
//! beacon restarted) looks exactly like a recording: its times are in the past of the held
//! beacon time. It is refused as [`Rejection::Stale`] (counted and logged, with how far behind
//! it is) and the relay keeps the last good state; a running beacon is never affected (its
//! timebase runs on the monotonic clock after start). To follow it, restart the relay: a
//! receiver holding nothing accepts the first valid packet. Set the beacon box's clock (NTP)
//! before the show, not during it.

use crate::wire::{self, Key, Packet, WireError};

/// How far behind the estimated beacon time a new boot's clock may be and still be accepted:
/// network delay, a relay busy for a moment, scheduling jitter (1 s; a recording older than
/// this is refused even when it is of a boot the receiver never saw).
pub const FRESH_US: u64 = 1_000_000;
/// Rate difference allowed between the beacon clock and the receiver clock, parts per
/// million of the time elapsed since the last accepted packet (NTP's own bound is 500 ppm).
pub const DRIFT_PPM: u64 = 1_000;
/// How many replaced boot ids are remembered and refused.
pub const RETIRED_BOOTS: usize = 8;

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
    /// A new boot whose clock does not continue the held beacon time: a recording, or a
    /// beacon whose clock was stepped back (see the module doc).
    #[error(
        "stale: new boot {boot:016x} is {behind_us} µs behind the beacon time held \
         (a recording, or the beacon clock was stepped back: restart the relay to follow it)"
    )]
    Stale {
        /// Boot id of the refused packet.
        boot: u64,
        /// Its sequence number.
        seq: u64,
        /// How far its clock is behind the estimated beacon time now.
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
    /// New boot whose clock does not continue the held beacon time.
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
    /// Local time (`now_us`) at which `current` was accepted.
    current_at_us: u64,
    retired: Vec<u64>,
    counters: RejectCounters,
}

impl Receiver {
    /// A receiver holding nothing yet.
    pub fn new(key: Key) -> Self {
        Receiver {
            key,
            current: None,
            current_at_us: 0,
            retired: Vec::new(),
            counters: RejectCounters::default(),
        }
    }

    /// Checks one datagram received at `now_us` (the receiver's monotonic clock, µs); on
    /// acceptance it becomes the current packet and is returned.
    pub fn handle_datagram(&mut self, now_us: u64, bytes: &[u8]) -> Result<&Packet, Rejection> {
        match self.check(now_us, bytes) {
            Ok(packet) => {
                self.counters.accepted += 1;
                self.current_at_us = now_us;
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
                *counter += 1;
                Err(rejection)
            }
        }
    }

    /// The beacon time now as the receiver estimates it: the held packet's clock plus the
    /// local time elapsed since it was accepted. `None` before the first packet.
    pub fn estimate_us(&self, now_us: u64) -> Option<u64> {
        self.current.as_ref().map(|held| {
            held.clock_us
                .saturating_add(now_us.saturating_sub(self.current_at_us))
        })
    }

    fn check(&self, now_us: u64, bytes: &[u8]) -> Result<Packet, Rejection> {
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
        let (Some(held), Some(estimate)) = (&self.current, self.estimate_us(now_us)) else {
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
            let elapsed = now_us.saturating_sub(self.current_at_us);
            let slack = FRESH_US + elapsed / 1_000_000 * DRIFT_PPM;
            let continues = packet.clock_us > held.clock_us;
            let fresh = packet.clock_us.saturating_add(slack) >= estimate;
            if !(continues && fresh) {
                let behind_us = estimate.saturating_sub(packet.clock_us);
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
