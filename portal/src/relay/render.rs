//! Pre-rendered `/s` bodies: built once per state change, served by copying `Bytes`.

use bytes::Bytes;
use http::HeaderValue;

/// The beacon state `/s` shows: the wire type itself (one definition of the cue states).
pub use crowdlight_proto::wire::State as StateView;

/// Server-directed poll interval for `state`, ms.
///
/// Every state from which the operator can fire a GO polls at most every second, so that with
/// the page's +20 % jitter a poll always lands inside the beacon's default 1.5 s GO lead time
/// and every phone starts the cue on its first frame. Standby (a GO is imminent) polls faster.
pub fn poll_ms(state: &StateView) -> u64 {
    match state {
        StateView::Stopped
        | StateView::Blackout
        | StateView::Hold { .. }
        | StateView::Running { .. } => 1000,
        StateView::Standby { .. } => 500,
    }
}

/// Index of `state` into [`STATE_LABELS`].
pub fn state_index(state: &StateView) -> usize {
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
    pub state: StateView,
    /// Armed GO target.
    pub next: Option<String>,
    /// Compiled show id as 32 hex chars; `None` when no show is announced.
    pub show_hex: Option<String>,
}

impl Default for SnapshotInput {
    fn default() -> Self {
        Self {
            state: StateView::Stopped,
            next: None,
            show_hex: None,
        }
    }
}

/// A rendered `/s` answer.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// What was rendered.
    pub input: SnapshotInput,
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
    let (cue, at, held) = match &input.state {
        StateView::Stopped | StateView::Blackout => (None, None, None),
        StateView::Standby { cue } => (Some(cue.as_str()), None, None),
        StateView::Running { cue, start_us } => (Some(cue.as_str()), Some(*start_us), None),
        StateView::Hold {
            cue,
            start_us,
            offset_us,
        } => (Some(cue.as_str()), Some(*start_us), Some(*offset_us)),
    };
    let show = input.show_hex.as_ref().map(|h| format!("/show/{h}.json"));
    let value = serde_json::json!({
        "state": input.state.name(),
        "cue": cue,
        "at": at,
        "held": held,
        "next": input.next,
        "poll": poll_ms(&input.state),
        "show": show,
    });
    let body = Bytes::from(value.to_string());
    let etag = HeaderValue::from_str(&format!("\"s-{:016x}\"", fnv1a(&body)))
        .unwrap_or_else(|_| HeaderValue::from_static("\"s\""));
    Rendered {
        input: input.clone(),
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
        assert!(v["cue"].is_null() && v["at"].is_null() && v["show"].is_null());
    }

    #[test]
    fn etag_follows_body() {
        let a = render(&SnapshotInput {
            state: StateView::Running {
                cue: "intro".into(),
                start_us: 5,
            },
            next: None,
            show_hex: Some("ab".repeat(16)),
        });
        let b = render(&a.input.clone());
        assert_eq!(a.etag, b.etag);
        let c = render(&SnapshotInput {
            state: StateView::Blackout,
            ..a.input.clone()
        });
        assert_ne!(a.etag, c.etag);
        let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["at"], 5);
        assert_eq!(v["show"], format!("/show/{}.json", "ab".repeat(16)));
    }
}
