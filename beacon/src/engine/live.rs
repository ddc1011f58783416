//! The lighting desk's live layer as the engine owns it: the desk's newest set of held zones
//! in, coalesced layers out, so that every relay and phone sees the same few changes.
//!
//! A change is published at once when nothing was published for [`LIVE_INTERVAL_US`] (a cut:
//! `fade_us` 0); otherwise it waits for the next interval boundary and is published then with
//! the newest colours and `fade_us` = the interval. Every layer starts at `at_us` = publish
//! time + [`LIVE_LEAD_US`] (long enough for every poller to have it) and phones fade from the
//! previous layer over `fade_us`, so each fade ends exactly when the next one starts: a desk
//! fading continuously becomes a continuous piecewise-linear fade on the phones, one segment
//! per interval, behind the desk by the interval + the lead (≈ 5.4 s). A single move after a
//! quiet spell reaches phones after the lead only (400 ms). When every desk source is lost
//! the release is published at once (phones return to the show < 3 s after the desk went
//! silent: 2.5 s source timeout + the lead).
//!
//! Cost: a layer change costs each phone one long-poll answer (≈ 4.4 packets on the wire with
//! the new request and the ACKs, measured). With a 4 s interval a desk fading without pause
//! cost 67 packets per phone per minute (over the 60 budget); at 5 s it is 12 answers a
//! minute, ≈ 54 packets (BENCHMARKS.md, "Lighting desk").

use std::collections::BTreeMap;

use crate::wire::{LiveLayer, LiveZone, MAX_LIVE_ZONES};

use super::command::CommandError;
use super::show::ShowInfo;

/// Shortest time between two published live layers, µs.
pub const LIVE_INTERVAL_US: u64 = 5_000_000;
/// How far ahead of its publication a layer takes effect, µs.
pub const LIVE_LEAD_US: u64 = 400_000;

/// The engine's live state.
#[derive(Debug, Default, Clone)]
pub struct Live {
    /// The desk's newest set, by zone name.
    wanted: BTreeMap<String, [u8; 3]>,
    /// `wanted` as indices into the loaded show.
    wanted_zones: Vec<LiveZone>,
    /// What packets carry.
    published: Option<LiveLayer>,
    last_publish_us: Option<u64>,
    /// A deferred publication.
    due_us: Option<u64>,
}

/// Maps names to the show's zone indices (ascending).
fn indices(
    show: Option<&ShowInfo>,
    zones: &BTreeMap<String, [u8; 3]>,
) -> Result<Vec<LiveZone>, CommandError> {
    if zones.is_empty() {
        return Ok(Vec::new());
    }
    let show = show.ok_or(CommandError::NoShow)?;
    if zones.len() > MAX_LIVE_ZONES {
        return Err(CommandError::TooManyLiveZones(zones.len()));
    }
    let mut out = zones
        .iter()
        .map(|(name, rgb)| {
            show.zones
                .iter()
                .position(|z| z == name)
                .and_then(|i| u8::try_from(i).ok())
                .map(|zone| LiveZone { zone, rgb: *rgb })
                .ok_or_else(|| CommandError::UnknownZone {
                    zone: name.clone(),
                    valid: show.zones.clone(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|z| z.zone);
    Ok(out)
}

impl Live {
    /// The desk's whole current set at `now_us`; true when a layer was published now. `lost`
    /// (every desk source gone) publishes an empty set at once.
    pub fn handle_set(
        &mut self,
        now_us: u64,
        show: Option<&ShowInfo>,
        zones: BTreeMap<String, [u8; 3]>,
        lost: bool,
    ) -> Result<bool, CommandError> {
        let wanted_zones = indices(show, &zones)?;
        self.wanted = zones;
        self.wanted_zones = wanted_zones;
        let held = self.published.as_ref().is_some_and(|l| !l.zones.is_empty());
        if lost && self.wanted_zones.is_empty() && held {
            self.publish(now_us, 0);
            return Ok(true);
        }
        Ok(self.schedule(now_us))
    }

    /// A new show: the held zones are looked up again by name (zones it lacks are dropped).
    pub fn handle_show(&mut self, now_us: u64, show: Option<&ShowInfo>) -> bool {
        let wanted = std::mem::take(&mut self.wanted);
        let kept: BTreeMap<String, [u8; 3]> = wanted
            .into_iter()
            .filter(|(name, _)| show.is_some_and(|s| s.zones.contains(name)))
            .collect();
        self.wanted_zones = indices(show, &kept).unwrap_or_default();
        self.wanted = kept;
        // Indices of the old show mean nothing in the new one: publish at once.
        if self.published.is_some() {
            self.publish(now_us, 0);
            return true;
        }
        false
    }

    fn schedule(&mut self, now_us: u64) -> bool {
        let current = self.published.as_ref().map(|l| &l.zones);
        let pending = self.due_us.is_some();
        if current.map_or(self.wanted_zones.is_empty(), |z| *z == self.wanted_zones) {
            // Back to what phones already have: nothing to send.
            self.due_us = None;
            return false;
        }
        if pending {
            return false;
        }
        match self.last_publish_us {
            Some(t) if now_us < t.saturating_add(LIVE_INTERVAL_US) => {
                self.due_us = Some(t.saturating_add(LIVE_INTERVAL_US));
                false
            }
            _ => {
                self.publish(now_us, 0);
                true
            }
        }
    }

    fn publish(&mut self, now_us: u64, fade_us: u64) {
        self.published = Some(LiveLayer {
            at_us: now_us.saturating_add(LIVE_LEAD_US),
            fade_us,
            zones: self.wanted_zones.clone(),
        });
        self.last_publish_us = Some(now_us);
        self.due_us = None;
    }

    /// Publishes a deferred layer due at `now_us`; true when one was.
    pub fn handle_timeout(&mut self, now_us: u64) -> bool {
        match self.due_us {
            Some(due) if now_us >= due => {
                self.publish(now_us, LIVE_INTERVAL_US);
                true
            }
            _ => false,
        }
    }

    /// When [`Live::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.due_us
    }

    /// The layer packets carry.
    pub fn published(&self) -> Option<&LiveLayer> {
        self.published.as_ref()
    }

    /// The desk's newest set, by name.
    pub fn wanted(&self) -> &BTreeMap<String, [u8; 3]> {
        &self.wanted
    }
}
