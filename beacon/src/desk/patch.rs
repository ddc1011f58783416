//! The desk patch: which DMX slots mean what.
//!
//! - trigger channel (`trigger-address`): value N (1–255) fires the show's N-th cue (1-based,
//!   file order); 0 fires nothing; a change of value is one GO, a value held is not.
//! - control channel (`control-address`, optional): a change into a band fires it once:
//!   0–63 nothing, 64–127 hold, 128–191 resume, 192–255 blackout.
//! - zones (`patch = ["ZONE=A", "ZONE=A:rgbd"]`): an RGB fixture at A, A+1, A+2 (0–255 each);
//!   mode `rgbd` adds a master dimmer at A+3 that scales the colour. The desk holds the zone
//!   while any colour channel is non-zero (and, with a dimmer, the dimmer is non-zero).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::frame::UNIVERSE_SLOTS;

/// A zone's fixture type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixtureMode {
    /// Red, green, blue.
    Rgb,
    /// Red, green, blue, master dimmer.
    Rgbd,
}

impl FixtureMode {
    /// Channels the fixture takes.
    pub fn footprint(self) -> u16 {
        match self {
            FixtureMode::Rgb => 3,
            FixtureMode::Rgbd => 4,
        }
    }
}

/// One `ZONE=A[:mode]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZonePatch {
    /// Show zone name.
    pub zone: String,
    /// First DMX address (1–512).
    pub address: u16,
    /// Fixture type.
    pub mode: FixtureMode,
}

impl FromStr for ZonePatch {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (zone, rest) = s
            .rsplit_once('=')
            .ok_or_else(|| format!("{s:?}: expected ZONE=ADDRESS (e.g. stage-left=1)"))?;
        let (address, mode) = match rest.split_once(':') {
            None => (rest, FixtureMode::Rgb),
            Some((a, "rgb")) => (a, FixtureMode::Rgb),
            Some((a, "rgbd")) => (a, FixtureMode::Rgbd),
            Some((_, m)) => {
                return Err(format!("{s:?}: unknown fixture mode {m:?} (rgb or rgbd)"));
            }
        };
        let zone = zone.trim();
        if zone.is_empty() {
            return Err(format!("{s:?}: the zone name is empty"));
        }
        let address: u16 = address
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: the address must be a number 1-512"))?;
        Ok(ZonePatch {
            zone: zone.to_owned(),
            address,
            mode,
        })
    }
}

impl fmt::Display for ZonePatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode {
            FixtureMode::Rgb => write!(f, "{}={}", self.zone, self.address),
            FixtureMode::Rgbd => write!(f, "{}={}:rgbd", self.zone, self.address),
        }
    }
}

/// What a control-channel band asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlAction {
    /// 64–127.
    Hold,
    /// 128–191.
    Resume,
    /// 192–255.
    Blackout,
}

/// The band of a control-channel value (0–63: none).
pub fn control_band(value: u8) -> Option<ControlAction> {
    match value {
        0..=63 => None,
        64..=127 => Some(ControlAction::Hold),
        128..=191 => Some(ControlAction::Resume),
        192..=255 => Some(ControlAction::Blackout),
    }
}

/// The whole patch of one universe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patch {
    /// Cue-trigger channel.
    pub trigger: Option<u16>,
    /// Hold/resume/blackout channel.
    pub control: Option<u16>,
    /// Zone fixtures.
    pub zones: Vec<ZonePatch>,
}

/// A problem with a patch (`beacon validate` lists them all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// An address outside 1–512 (or a fixture running past 512).
    #[error("{what} at {address}: out of range (DMX addresses are 1-{UNIVERSE_SLOTS}{})", if *.footprint > 1 { format!("; the fixture takes {} channels", .footprint) } else { String::new() })]
    OutOfRange {
        /// The channel's role.
        what: String,
        /// First address.
        address: u16,
        /// Channels taken.
        footprint: u16,
    },
    /// Two roles share a channel.
    #[error("{a} and {b} overlap at address {address}")]
    Overlap {
        /// One role.
        a: String,
        /// The other.
        b: String,
        /// The first shared address.
        address: u16,
    },
    /// The same zone patched twice.
    #[error("zone {0:?} is patched twice")]
    Duplicate(String),
    /// A zone the show does not have.
    #[error("zone {zone:?} is not in the show (zones: {known})")]
    UnknownZone {
        /// The patched name.
        zone: String,
        /// The show's zones.
        known: String,
    },
}

impl Patch {
    /// Every role and its channels.
    fn roles(&self) -> Vec<(String, u16, u16)> {
        let mut roles = Vec::new();
        if let Some(t) = self.trigger {
            roles.push(("trigger channel".to_owned(), t, 1));
        }
        if let Some(c) = self.control {
            roles.push(("control channel".to_owned(), c, 1));
        }
        for z in &self.zones {
            roles.push((format!("zone {:?}", z.zone), z.address, z.mode.footprint()));
        }
        roles
    }

    /// Range, overlap and duplicate problems; `show_zones` (when known) adds unknown zones.
    pub fn check(&self, show_zones: Option<&[String]>) -> Vec<PatchError> {
        let mut problems = Vec::new();
        let roles = self.roles();
        for (what, address, footprint) in &roles {
            if *address == 0 || address + footprint - 1 > UNIVERSE_SLOTS as u16 {
                problems.push(PatchError::OutOfRange {
                    what: what.clone(),
                    address: *address,
                    footprint: *footprint,
                });
            }
        }
        for (i, (a, a0, an)) in roles.iter().enumerate() {
            for (b, b0, bn) in &roles[i + 1..] {
                let start = (*a0).max(*b0);
                if start < a0 + an && start < b0 + bn {
                    problems.push(PatchError::Overlap {
                        a: a.clone(),
                        b: b.clone(),
                        address: start,
                    });
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for z in &self.zones {
            if !seen.insert(z.zone.as_str()) {
                problems.push(PatchError::Duplicate(z.zone.clone()));
            }
            if let Some(known) = show_zones
                && !known.contains(&z.zone)
            {
                problems.push(PatchError::UnknownZone {
                    zone: z.zone.clone(),
                    known: known.join(", "),
                });
            }
        }
        problems
    }

    /// The trigger value in `levels`.
    pub fn trigger_value(&self, levels: &[u8; UNIVERSE_SLOTS]) -> Option<u8> {
        slot(levels, self.trigger?)
    }

    /// The control value in `levels`.
    pub fn control_value(&self, levels: &[u8; UNIVERSE_SLOTS]) -> Option<u8> {
        slot(levels, self.control?)
    }

    /// The zones the desk holds in `levels` and their colours.
    pub fn held_zones(&self, levels: &[u8; UNIVERSE_SLOTS]) -> BTreeMap<String, [u8; 3]> {
        let mut held = BTreeMap::new();
        for z in &self.zones {
            let channel = |k: u16| slot(levels, z.address + k).unwrap_or(0);
            let rgb = [channel(0), channel(1), channel(2)];
            let rgb = match z.mode {
                FixtureMode::Rgb => rgb,
                FixtureMode::Rgbd => {
                    let dim = u16::from(channel(3));
                    rgb.map(|c| ((u16::from(c) * dim + 127) / 255) as u8)
                }
            };
            let dimmer_open = z.mode == FixtureMode::Rgb || channel(3) > 0;
            if dimmer_open && (levels_nonzero(levels, z.address)) {
                held.insert(z.zone.clone(), rgb);
            }
        }
        held
    }
}

fn levels_nonzero(levels: &[u8; UNIVERSE_SLOTS], address: u16) -> bool {
    (0..3).any(|k| slot(levels, address + k).is_some_and(|v| v > 0))
}

/// Slot `address` (1-based).
fn slot(levels: &[u8; UNIVERSE_SLOTS], address: u16) -> Option<u8> {
    levels.get(usize::from(address).checked_sub(1)?).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(trigger: Option<u16>, zones: &[&str]) -> Patch {
        Patch {
            trigger,
            control: None,
            zones: zones.iter().map(|z| z.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn parses_entries() {
        assert_eq!(
            "stage-left=10:rgbd".parse::<ZonePatch>().unwrap(),
            ZonePatch {
                zone: "stage-left".into(),
                address: 10,
                mode: FixtureMode::Rgbd
            }
        );
        for bad in ["x", "=1", "x=", "x=a", "x=1:cmy", "x=70000"] {
            assert!(bad.parse::<ZonePatch>().is_err(), "{bad}");
        }
    }

    #[test]
    fn checks_range_overlap_duplicates_and_zones() {
        assert!(patch(Some(1), &["a=2", "b=5:rgbd"]).check(None).is_empty());
        let p = patch(Some(3), &["a=2", "b=511", "a=20", "c=0"]);
        let problems = p.check(Some(&["a".to_owned(), "b".to_owned()]));
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|t| t.contains("zone \"b\" at 511: out of range")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("zone \"c\" at 0")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t == "trigger channel and zone \"a\" overlap at address 3"),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t == "zone \"a\" is patched twice"),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("zone \"c\" is not in the show")),
            "{text:?}"
        );
    }

    #[test]
    fn held_zones_and_dimmer() {
        let p = patch(Some(1), &["a=2", "b=5:rgbd"]);
        let mut levels = [0u8; UNIVERSE_SLOTS];
        assert!(p.held_zones(&levels).is_empty());
        levels[1..4].copy_from_slice(&[0, 0, 255]);
        levels[4..7].copy_from_slice(&[255, 128, 0]);
        assert_eq!(p.held_zones(&levels).len(), 1, "b's dimmer is at 0");
        levels[7] = 128;
        let held = p.held_zones(&levels);
        assert_eq!(held["a"], [0, 0, 255]);
        assert_eq!(held["b"], [128, 64, 0]);
    }

    #[test]
    fn control_bands() {
        assert_eq!(control_band(0), None);
        assert_eq!(control_band(63), None);
        assert_eq!(control_band(64), Some(ControlAction::Hold));
        assert_eq!(control_band(191), Some(ControlAction::Resume));
        assert_eq!(control_band(255), Some(ControlAction::Blackout));
    }
}
