//! Pre-rendered `/s` bodies: built once per state change, served by copying `Bytes`, with the
//! state's version `v` (what `/s?after=V` long-polls compare).

use bytes::Bytes;
use http::HeaderValue;
use sha2::{Digest, Sha256};

use beacon::wire::State;

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
}

impl Default for SnapshotInput {
    fn default() -> Self {
        Self {
            state: State::Stopped,
            next: None,
            show_hex: None,
        }
    }
}

/// Versions are below this (2^53), so JSON readers keep them exact.
pub const VERSION_LIMIT: u64 = 1 << 53;

/// The version `v` of what `/s` shows: the first bytes of SHA-256 over the fields that define
/// what plays (state, cue, start, hold offset, armed cue, show id) — nothing a relay adds (no
/// poll interval, boot id, sequence or counter). Every relay hearing the same beacon computes
/// the same `v`, and a beacon restart resuming the same cue keeps it.
pub fn version(input: &SnapshotInput) -> u64 {
    let (cue, at, held) = fields(&input.state);
    let canonical = serde_json::json!([
        input.state.name(),
        cue,
        at,
        held,
        input.next,
        input.show_hex
    ]);
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
    let value = serde_json::json!({
        "state": input.state.name(),
        "cue": cue,
        "at": at,
        "held": held,
        "next": input.next,
        "poll": poll_ms(&input.state),
        "show": show,
        "v": v,
    });
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
}
