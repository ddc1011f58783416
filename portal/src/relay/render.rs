//! Pre-rendered `/s` bodies: built once per state change, served by copying `Bytes`, with the
//! state's version `v` (what `/s?after=V` long-polls compare).

use bytes::Bytes;
use http::HeaderValue;
use sha2::{Digest, Sha256};

use crowdlight_proto::wire::{LiveLayer, State};

/// Server-directed poll interval for `state`, ms.
///
/// Every state from which the operator can fire a GO polls at most every second, so that with
/// the page's +20 % jitter a poll always lands inside the beacon's default 1.5 s GO lead time
/// and every phone starts the cue on its first frame. Standby (a GO is imminent) polls faster.
pub fn poll_ms(state: &State) -> u64 {
    match state {
        State::Stopped | State::Blackout | State::Hold { .. } | State::Running { .. } => 1000,
        State::Standby { .. } => 500,
    }
}

/// Index of `state` into [`STATE_LABELS`].
pub fn state_index(state: &State) -> usize {
    STATE_LABELS
        .iter()
        .position(|l| *l == state.name())
        .unwrap_or(0)
}

/// Every state label, for metrics.
pub const STATE_LABELS: [&str; 5] = ["stopped", "standby", "running", "hold", "blackout"];

/// Everything `/s` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInput {
    /// Beacon state.
    pub state: State,
    /// Armed GO target.
    pub next: Option<String>,
    /// Compiled show id as 32 hex chars; `None` when no show is announced.
    pub show_hex: Option<String>,
    /// The lighting desk's live layer with zone names (indices the show does not have are
    /// left out); `None` when the beacon sends none or the show is not in the catalog.
    pub live: Option<LiveInput>,
}

/// The live layer as `/s` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveInput {
    /// When the change starts, µs (beacon timebase).
    pub at_us: u64,
    /// Length of the linear fade from the previous layer, starting at `at_us`, µs.
    pub fade_us: u64,
    /// Zone name → `#rrggbb`, in show order.
    pub zones: Vec<(String, String)>,
}

impl LiveInput {
    /// Names the layer's zones with the show's `zones`.
    pub fn from_layer(layer: &LiveLayer, zones: &[String]) -> LiveInput {
        LiveInput {
            at_us: layer.at_us,
            fade_us: layer.fade_us,
            zones: layer
                .zones
                .iter()
                .filter_map(|z| {
                    let name = zones.get(usize::from(z.zone))?;
                    let [r, g, b] = z.rgb;
                    Some((name.clone(), format!("#{r:02x}{g:02x}{b:02x}")))
                })
                .collect(),
        }
    }
}

impl Default for SnapshotInput {
    fn default() -> Self {
        Self {
            state: State::Stopped,
            next: None,
            show_hex: None,
            live: None,
        }
    }
}

/// Versions are below this (2^53), so JSON readers keep them exact.
pub const VERSION_LIMIT: u64 = 1 << 53;

/// The version `v` of what `/s` shows: the first bytes of SHA-256 over the fields that define
/// what plays (state, cue, start, hold offset, armed cue, show id, the desk's live layer) —
/// nothing a relay adds (no poll interval, boot id, sequence or counter). Every relay hearing the same beacon computes
/// the same `v`, and a beacon restart resuming the same cue keeps it.
pub fn version(input: &SnapshotInput) -> u64 {
    let (cue, at, held) = fields(&input.state);
    let mut canonical = serde_json::json!([
        input.state.name(),
        cue,
        at,
        held,
        input.next,
        input.show_hex
    ]);
    // Without a live layer the version is what it was before the desk existed.
    if let (Some(live), Some(list)) = (&input.live, canonical.as_array_mut()) {
        list.push(serde_json::json!([live.at_us, live.fade_us, live.zones]));
    }
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % VERSION_LIMIT
}

fn fields(state: &State) -> (Option<&str>, Option<u64>, Option<u64>) {
    match state {
        State::Stopped | State::Blackout => (None, None, None),
        State::Standby { cue } => (Some(cue.as_str()), None, None),
        State::Running { cue, start_us } => (Some(cue.as_str()), Some(*start_us), None),
        State::Hold {
            cue,
            start_us,
            offset_us,
        } => (Some(cue.as_str()), Some(*start_us), Some(*offset_us)),
    }
}

/// A rendered `/s` answer.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// What was rendered.
    pub input: SnapshotInput,
    /// Its [`version`].
    pub version: u64,
    /// JSON body.
    pub body: Bytes,
    /// Strong ETag (quoted hash of the body).
    pub etag: HeaderValue,
}

/// FNV-1a 64-bit (stable across builds and processes, so relays agree on ETags).
pub fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Renders `input` into the `/s` body per the contract.
pub fn render(input: &SnapshotInput) -> Rendered {
    let (cue, at, held) = fields(&input.state);
    let v = version(input);
    let show = input.show_hex.as_ref().map(|h| format!("/show/{h}.json"));
    let mut value = serde_json::json!({
        "state": input.state.name(),
        "cue": cue,
        "at": at,
        "held": held,
        "next": input.next,
        "poll": poll_ms(&input.state),
        "show": show,
        "v": v,
    });
    if let (Some(live), Some(map)) = (&input.live, value.as_object_mut()) {
        let zones: serde_json::Map<String, serde_json::Value> = live
            .zones
            .iter()
            .map(|(z, c)| (z.clone(), serde_json::Value::from(c.as_str())))
            .collect();
        map.insert("live".into(), zones.into());
        map.insert("live_at".into(), live.at_us.into());
        map.insert("live_fade".into(), live.fade_us.into());
    }
    let body = Bytes::from(value.to_string());
    let etag = HeaderValue::from_str(&format!("\"s-{:016x}\"", fnv1a(&body)))
        .unwrap_or_else(|_| HeaderValue::from_static("\"s\""));
    Rendered {
        input: input.clone(),
        version: v,
        body,
        etag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopped_body() {
        let r = render(&SnapshotInput::default());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["state"], "stopped");
        assert_eq!(v["poll"], 1000);
        assert_eq!(v["v"], r.version);
        assert!(v["cue"].is_null() && v["at"].is_null() && v["show"].is_null());
    }

    #[test]
    fn etag_follows_body() {
        let a = render(&SnapshotInput {
            state: State::Running {
                cue: "intro".into(),
                start_us: 5,
            },
            next: None,
            show_hex: Some("ab".repeat(16)),
            live: None,
        });
        let b = render(&a.input.clone());
        assert_eq!(a.etag, b.etag);
        let c = render(&SnapshotInput {
            state: State::Blackout,
            ..a.input.clone()
        });
        assert_ne!(a.etag, c.etag);
        assert_ne!(a.version, c.version);
        assert_eq!(a.version, b.version);
        assert!(a.version < VERSION_LIMIT);
        let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["at"], 5);
        assert_eq!(v["show"], format!("/show/{}.json", "ab".repeat(16)));
    }

    #[test]
    fn live_layer_is_named_and_versioned() {
        use crowdlight_proto::wire::LiveZone;
        let zones = vec!["left".to_owned(), "right".to_owned()];
        let layer = LiveLayer {
            at_us: 7,
            fade_us: 4,
            zones: vec![
                LiveZone {
                    zone: 1,
                    rgb: [255, 0, 16],
                },
                LiveZone {
                    zone: 9,
                    rgb: [1, 1, 1],
                },
            ],
        };
        let plain = SnapshotInput::default();
        let with = SnapshotInput {
            live: Some(LiveInput::from_layer(&layer, &zones)),
            ..plain.clone()
        };
        let r = render(&with);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["live"], serde_json::json!({"right": "#ff0010"}));
        assert_eq!(
            (v["live_at"].as_u64(), v["live_fade"].as_u64()),
            (Some(7), Some(4))
        );
        assert_ne!(r.version, render(&plain).version);
        let released = SnapshotInput {
            live: Some(LiveInput::from_layer(
                &LiveLayer {
                    zones: vec![],
                    ..layer
                },
                &zones,
            )),
            ..plain.clone()
        };
        let rel: serde_json::Value = serde_json::from_slice(&render(&released).body).unwrap();
        assert_eq!(rel["live"], serde_json::json!({}));
        assert_ne!(render(&released).version, r.version);
        let none: serde_json::Value = serde_json::from_slice(&render(&plain).body).unwrap();
        assert!(none.get("live").is_none());
    }
}
