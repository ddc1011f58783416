//! The operator socket's messages: one JSON request, one JSON reply, each framed by a
//! big-endian u32 length; at most [`MAX_FRAME`] bytes each. A connection may carry several
//! request/reply pairs in turn.
//!
//! Requests (`cmd` selects; unknown fields are refused):
//! `{"cmd":"status"}`, `{"cmd":"load","path":"/abs/show.toml"}`, `{"cmd":"standby","cue":"x"}`,
//! `{"cmd":"go"}` or `{"cmd":"go","cue":"x"}`, `{"cmd":"hold"}`, `{"cmd":"resume"}`,
//! `{"cmd":"blackout"}`, `{"cmd":"stop"}`,
//! `{"cmd":"live","zones":{"stage-left":"#ff0000"}}` (the lighting desk's whole set of held
//! zones; `{}` releases them all; `"lost":true`: every desk source is gone, release at once), `{"cmd":"console-token"}` (socket only: the secret
//! `beacon console` requires on every web command, so the console is no wider than the socket).
//!
//! Replies: `{"ok":true,"message":"go wave: starts at … µs (in 1500 ms)","status":{…}}` or
//! `{"ok":false,"kind":"unknown_cue","error":"unknown cue \"x\"; valid cues: a, b"}`.
//! Error kinds: those of [`crate::engine::CommandError::kind`], plus `malformed`, `busy`
//! and `internal`.

use std::io::{Read, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::engine::Status;

/// Largest request or reply body, bytes.
pub const MAX_FRAME: usize = 64 * 1024;

/// One operator request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "cmd",
    rename_all = "lowercase",
    deny_unknown_fields,
    from = "StrictRequest"
)]
pub enum Request {
    /// Report the state.
    Status,
    /// Compile and load a show file (absolute path, read by the daemon).
    Load {
        /// The show source file.
        path: PathBuf,
    },
    /// Arm a cue.
    Standby {
        /// The cue.
        cue: String,
    },
    /// Start the named cue, or the armed/next one.
    Go {
        /// The cue, if named.
        #[serde(default)]
        cue: Option<String>,
    },
    /// Freeze the running cue.
    Hold,
    /// Continue the held cue.
    Resume,
    /// Everything dark.
    Blackout,
    /// Stop playing.
    Stop,
    /// The lighting desk's live layer: every zone it holds and its colour (`#rrggbb`).
    Live {
        /// Zone name → `#rrggbb`; empty releases every zone.
        zones: std::collections::BTreeMap<String, String>,
        /// Every desk source is gone: publish the release at once instead of at the next
        /// coalescing boundary.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        lost: bool,
    },
    /// The console token (answered in [`Response::token`]); the operator socket only.
    #[serde(rename = "console-token")]
    ConsoleToken,
}

/// What a [`Request`] is read from: the same shape with the bare commands as empty structs,
/// because serde ignores extra fields on the unit variants of a tagged enum (`{"cmd":"stop",
/// "x":1}` would pass) but refuses them on struct variants.
#[derive(Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase", deny_unknown_fields)]
enum StrictRequest {
    Status {},
    Load {
        path: PathBuf,
    },
    Standby {
        cue: String,
    },
    Go {
        #[serde(default)]
        cue: Option<String>,
    },
    Hold {},
    Resume {},
    Blackout {},
    Stop {},
    Live {
        zones: std::collections::BTreeMap<String, String>,
        #[serde(default)]
        lost: bool,
    },
    #[serde(rename = "console-token")]
    ConsoleToken {},
}

impl From<StrictRequest> for Request {
    fn from(r: StrictRequest) -> Request {
        match r {
            StrictRequest::Status {} => Request::Status,
            StrictRequest::Load { path } => Request::Load { path },
            StrictRequest::Standby { cue } => Request::Standby { cue },
            StrictRequest::Go { cue } => Request::Go { cue },
            StrictRequest::Hold {} => Request::Hold,
            StrictRequest::Resume {} => Request::Resume,
            StrictRequest::Blackout {} => Request::Blackout,
            StrictRequest::Stop {} => Request::Stop,
            StrictRequest::Live { zones, lost } => Request::Live { zones, lost },
            StrictRequest::ConsoleToken {} => Request::ConsoleToken,
        }
    }
}

/// Daemon-wide counters reported with every reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Packets sent.
    pub packets_sent: u64,
    /// Packets whose send failed.
    pub send_errors: u64,
    /// Malformed operator requests.
    pub malformed_requests: u64,
    /// Connections refused because too many were open.
    pub busy_connections: u64,
    /// Commands refused by the engine.
    pub refused_commands: u64,
    /// OSC commands applied.
    #[serde(default)]
    pub osc_commands: u64,
    /// Malformed OSC packets (undecodable, unknown address, wrong arguments).
    #[serde(default)]
    pub osc_malformed: u64,
    /// OSC packets dropped because the sender is not allowed.
    #[serde(default)]
    pub osc_denied: u64,
}

/// A `#rrggbb` colour.
pub fn parse_colour(text: &str) -> Option<[u8; 3]> {
    let hex = text.strip_prefix('#')?;
    if hex.len() != 6 || !hex.is_ascii() {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// Whether the command was applied.
    pub ok: bool,
    /// What happened (on success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The state after the command (on success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Daemon counters (on success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    /// Error kind (on failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// One-line error (on failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The console token (reply to `console-token` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The lighting desk input (on status replies, when it is on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desk: Option<crate::desk::DeskStatus>,
}

impl Response {
    /// The reply to `console-token`.
    pub fn console_token(token: &str) -> Response {
        Response {
            ok: true,
            message: Some("console token".into()),
            status: None,
            stats: None,
            kind: None,
            error: None,
            token: Some(token.to_owned()),
            desk: None,
        }
    }

    /// A failure reply.
    pub fn error(kind: &str, error: impl Into<String>) -> Response {
        Response {
            ok: false,
            message: None,
            status: None,
            stats: None,
            kind: Some(kind.to_owned()),
            error: Some(error.into()),
            token: None,
            desk: None,
        }
    }
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer announced a body larger than [`MAX_FRAME`].
    #[error("frame of {0} bytes exceeds the {MAX_FRAME}-byte cap")]
    TooLarge(usize),
    /// IO failure (including EOF in the middle of a frame).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Encodes a frame: 4-byte big-endian length then the body.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Checks a frame header, returning the body length.
pub fn body_len(header: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    Ok(len)
}

/// Blocking: writes one frame.
pub fn write_frame(w: &mut impl Write, body: &[u8]) -> std::io::Result<()> {
    w.write_all(&frame(body))?;
    w.flush()
}

/// Blocking: reads one frame.
pub fn read_frame(r: &mut impl Read) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; 4];
    r.read_exact(&mut header)?;
    let mut body = vec![0u8; body_len(header)?];
    r.read_exact(&mut body)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_json_shapes() {
        let cases = [
            (r#"{"cmd":"status"}"#, Request::Status),
            (r#"{"cmd":"stop"}"#, Request::Stop),
            (r#"{"cmd":"console-token"}"#, Request::ConsoleToken),
            (r#"{"cmd":"go"}"#, Request::Go { cue: None }),
            (
                r#"{"cmd":"go","cue":"a"}"#,
                Request::Go {
                    cue: Some("a".into()),
                },
            ),
            (
                r#"{"cmd":"load","path":"/x.toml"}"#,
                Request::Load {
                    path: "/x.toml".into(),
                },
            ),
            (
                r##"{"cmd":"live","zones":{"a":"#ff0000"}}"##,
                Request::Live {
                    zones: [("a".to_owned(), "#ff0000".to_owned())].into(),
                    lost: false,
                },
            ),
        ];
        for (json, req) in cases {
            assert_eq!(serde_json::from_str::<Request>(json).unwrap(), req);
        }
        for bad in [
            r#"{"cmd":"dance"}"#,
            r#"{"cmd":"go","cue":"a","x":1}"#,
            r#"{"cmd":"stop","x":1}"#,
            r#"{"cmd":"status","path":"/x"}"#,
            r#"{"cmd":"blackout","cue":"a"}"#,
            r#"{"cmd":"console-token","token":"t"}"#,
            r#"{"cmd":"standby"}"#,
            r#"{"cmd":"live"}"#,
            r#"{"cmd":"live","zones":{},"x":1}"#,
            "[]",
            "",
        ] {
            assert!(serde_json::from_str::<Request>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn frames_round_trip_and_cap() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"hello").unwrap();
        assert_eq!(&buf[..4], &[0, 0, 0, 5]);
        assert_eq!(read_frame(&mut &buf[..]).unwrap(), b"hello");
        let huge = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert!(matches!(
            read_frame(&mut &huge[..]),
            Err(FrameError::TooLarge(_))
        ));
        assert!(matches!(read_frame(&mut &buf[..6]), Err(FrameError::Io(_))));
    }

    #[test]
    fn colours() {
        assert_eq!(parse_colour("#ff8000"), Some([255, 128, 0]));
        for bad in ["ff8000", "#ff80", "#gg0000", "#ff80000", "#ééé"] {
            assert_eq!(parse_colour(bad), None, "{bad}");
        }
    }
}
