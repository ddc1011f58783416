//! The lighting desk input, sans-IO: sACN and Art-Net datagrams and time go in; the GO /
//! hold / resume / blackout actions the trigger and control channels ask for, the zones the
//! desk holds (the live layer) and ArtPollReplies come out. It never reads a clock or a socket
//! (`daemon::desk` does, and sends the actions through `operator::dispatch`).
//!
//! Both inputs feed one [`merge::Merge`]: the highest priority wins, equal priorities merge
//! HTP; Art-Net senders take the fixed priority [`ARTNET_PRIORITY`] (Art-Net has none).
//! The trigger remembers its last value across a source loss, so a desk that comes back with
//! the same value does not fire the cue again.

pub mod artnet;
pub mod frame;
pub mod merge;
pub mod patch;
pub mod sacn;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

pub use frame::{DmxFrame, Protocol, Refusal};
pub use merge::{SOURCE_TIMEOUT_US, SourceStatus};
pub use patch::{ControlAction, FixtureMode, Patch, PatchError, ZonePatch};

/// The priority Art-Net sources merge at (sACN's default priority).
pub const ARTNET_PRIORITY: u8 = 100;

/// What the desk input is set to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskConfig {
    /// sACN universe to listen to (1–63999).
    pub sacn: Option<u16>,
    /// Art-Net port-address to listen to (0–32767).
    pub artnet: Option<u16>,
    /// What the slots mean.
    pub patch: Patch,
    /// Sender addresses accepted; empty: loopback only.
    pub allow: Vec<IpAddr>,
    /// The beacon's interface (named in ArtPollReplies).
    pub interface: Ipv4Addr,
}

impl DeskConfig {
    /// Whether a datagram from `source` may drive the beacon.
    pub fn permits(&self, source: IpAddr) -> bool {
        crate::allow::permits(&self.allow, source)
    }
}

/// What the desk asks the beacon to do (the IO shell turns it into an operator request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeskAction {
    /// GO the show's N-th cue (1-based).
    GoNumber(u8),
    /// A control-channel band.
    Control(ControlAction),
}

/// Counters and sources for `beacon status --json` (`desk`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskStatus {
    /// sACN universe listened to.
    pub sacn: Option<u16>,
    /// Art-Net port-address listened to.
    pub artnet: Option<u16>,
    /// Every source heard (live or recently gone).
    pub sources: Vec<SourceStatus>,
    /// Zones the desk holds now, name → `#rrggbb`.
    pub held: BTreeMap<String, String>,
    /// Datagrams applied.
    pub accepted: u64,
    /// Datagrams refused, by reason (malformed, oversized, foreign_universe, sequence,
    /// denied, too_many_sources).
    pub refused: BTreeMap<String, u64>,
    /// Valid datagrams carrying nothing for us (sync, discovery, preview, other start codes,
    /// timecode).
    pub ignored: u64,
    /// Cue triggers and control actions sent.
    pub actions: u64,
    /// ArtPollReplies sent.
    pub poll_replies: u64,
}

/// The desk input state machine.
#[derive(Debug)]
pub struct Desk {
    config: DeskConfig,
    merge: merge::Merge,
    trigger: u8,
    control: Option<ControlAction>,
    held: BTreeMap<String, [u8; 3]>,
    held_changed: bool,
    actions: std::collections::VecDeque<DeskAction>,
    accepted: u64,
    refused: [u64; Refusal::ALL.len()],
    ignored: u64,
    actions_sent: u64,
    poll_replies: u64,
}

/// `#rrggbb`.
pub fn hex_colour(rgb: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2])
}

impl Desk {
    /// A desk with nothing heard yet.
    pub fn new(config: DeskConfig) -> Desk {
        Desk {
            config,
            merge: merge::Merge::default(),
            trigger: 0,
            control: None,
            held: BTreeMap::new(),
            held_changed: false,
            actions: Default::default(),
            accepted: 0,
            refused: [0; Refusal::ALL.len()],
            ignored: 0,
            actions_sent: 0,
            poll_replies: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DeskConfig {
        &self.config
    }

    fn refuse(&mut self, refusal: Refusal) -> Result<(), Refusal> {
        self.refused[refusal.index()] += 1;
        Err(refusal)
    }

    /// One sACN datagram from `from` at `now_us`.
    pub fn handle_sacn(&mut self, now_us: u64, from: IpAddr, bytes: &[u8]) -> Result<(), Refusal> {
        if !self.config.permits(from) {
            return self.refuse(Refusal::Denied);
        }
        match sacn::parse(bytes) {
            Err(r) => self.refuse(r),
            Ok(None) => {
                self.ignored += 1;
                Ok(())
            }
            Ok(Some(frame)) if Some(frame.universe) != self.config.sacn => {
                self.refuse(Refusal::ForeignUniverse)
            }
            Ok(Some(frame)) => self.apply(now_us, from, frame),
        }
    }

    /// One Art-Net datagram from `from` at `now_us`; `Ok(Some(reply))` is an ArtPollReply to
    /// send back to the poller.
    pub fn handle_artnet(
        &mut self,
        now_us: u64,
        from: IpAddr,
        bytes: &[u8],
    ) -> Result<Option<Vec<u8>>, Refusal> {
        if !self.config.permits(from) {
            self.refuse(Refusal::Denied)?;
        }
        match artnet::parse(bytes, from, ARTNET_PRIORITY) {
            Err(r) => self.refuse(r).map(|()| None),
            Ok(artnet::ArtnetInput::Ignored) => {
                self.ignored += 1;
                Ok(None)
            }
            Ok(artnet::ArtnetInput::Poll) => {
                self.poll_replies += 1;
                Ok(Some(artnet::poll_reply(
                    self.config.interface,
                    self.config.artnet.unwrap_or(0),
                    u32::try_from(self.poll_replies % 10_000).unwrap_or(0),
                )))
            }
            Ok(artnet::ArtnetInput::Dmx(frame)) if Some(frame.universe) != self.config.artnet => {
                self.refuse(Refusal::ForeignUniverse).map(|()| None)
            }
            Ok(artnet::ArtnetInput::Dmx(frame)) => self.apply(now_us, from, frame).map(|()| None),
        }
    }

    fn apply(&mut self, now_us: u64, from: IpAddr, frame: DmxFrame) -> Result<(), Refusal> {
        match self.merge.handle_frame(now_us, from, frame) {
            Ok(()) => {
                self.accepted += 1;
                self.update();
                Ok(())
            }
            Err(r) => self.refuse(r),
        }
    }

    /// Applies source timeouts due at `now_us`.
    pub fn handle_timeout(&mut self, now_us: u64) {
        if self.merge.handle_timeout(now_us) {
            self.update();
        }
    }

    /// Re-reads the merged levels: trigger, control, held zones.
    fn update(&mut self) {
        let Some(levels) = self.merge.merged() else {
            // No source: the desk holds nothing; the trigger keeps its last value.
            if !self.held.is_empty() {
                self.held.clear();
                self.held_changed = true;
            }
            return;
        };
        if let Some(value) = self.config.patch.trigger_value(&levels)
            && value != self.trigger
        {
            self.trigger = value;
            if value > 0 {
                self.actions.push_back(DeskAction::GoNumber(value));
            }
        }
        if let Some(value) = self.config.patch.control_value(&levels) {
            let band = patch::control_band(value);
            if band != self.control {
                self.control = band;
                if let Some(action) = band {
                    self.actions.push_back(DeskAction::Control(action));
                }
            }
        }
        let held = self.config.patch.held_zones(&levels);
        if held != self.held {
            self.held = held;
            self.held_changed = true;
        }
    }

    /// The next action to send.
    pub fn poll_action(&mut self) -> Option<DeskAction> {
        let action = self.actions.pop_front()?;
        self.actions_sent += 1;
        Some(action)
    }

    /// The held zones, once after each change (empty: the desk released everything).
    pub fn poll_live(&mut self) -> Option<BTreeMap<String, [u8; 3]>> {
        std::mem::take(&mut self.held_changed).then(|| self.held.clone())
    }

    /// True when no source is live (every desk timed out or terminated its stream): the
    /// release that follows is published at once, not coalesced.
    pub fn lost(&self) -> bool {
        self.merge.merged().is_none()
    }

    /// When [`Desk::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.merge.poll_timeout()
    }

    /// Status at `now_us`.
    pub fn status(&self, now_us: u64) -> DeskStatus {
        DeskStatus {
            sacn: self.config.sacn,
            artnet: self.config.artnet,
            sources: self.merge.status(now_us),
            held: self
                .held
                .iter()
                .map(|(z, c)| (z.clone(), hex_colour(*c)))
                .collect(),
            accepted: self.accepted,
            refused: Refusal::ALL
                .iter()
                .map(|r| (r.label().to_owned(), self.refused[r.index()]))
                .collect(),
            ignored: self.ignored,
            actions: self.actions_sent,
            poll_replies: self.poll_replies,
        }
    }
}

#[cfg(test)]
mod tests;
