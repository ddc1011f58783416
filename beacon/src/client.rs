//! The operator CLI's side of the socket: connect, send one request, read one reply, and
//! turn every failure into one clear line.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::operator_messages::{self, Request, Response};

/// How long the CLI waits for the daemon.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request did not get a reply.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket.
    #[error("no beacon daemon running: cannot connect to {path} ({source})")]
    NoDaemon {
        /// The socket tried.
        path: PathBuf,
        /// Why connecting failed (not found: no daemon; refused: a stale socket file).
        source: std::io::Error,
    },
    /// The socket exists but we may not use it.
    #[error("permission denied on the beacon socket {path}")]
    PermissionDenied {
        /// The socket tried.
        path: PathBuf,
    },
    /// The conversation failed.
    #[error("beacon socket {path}: {message}")]
    Protocol {
        /// The socket tried.
        path: PathBuf,
        /// Which part of the exchange failed (write, read, undecodable reply).
        message: String,
    },
}

/// Sends one request and returns the daemon's reply.
pub fn request(socket: &Path, request: &Request) -> Result<Response, ClientError> {
    let mut stream = UnixStream::connect(socket).map_err(|source| match source.kind() {
        std::io::ErrorKind::PermissionDenied => ClientError::PermissionDenied {
            path: socket.to_owned(),
        },
        _ => ClientError::NoDaemon {
            path: socket.to_owned(),
            source,
        },
    })?;
    let protocol_err = |message: String| ClientError::Protocol {
        path: socket.to_owned(),
        message,
    };
    stream
        .set_read_timeout(Some(CLIENT_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(CLIENT_TIMEOUT)))
        .map_err(|e| protocol_err(e.to_string()))?;
    let body = serde_json::to_vec(request).expect("request serialises");
    operator_messages::write_frame(&mut stream, &body).map_err(|e| protocol_err(e.to_string()))?;
    let reply =
        operator_messages::read_frame(&mut stream).map_err(|e| protocol_err(e.to_string()))?;
    serde_json::from_slice(&reply).map_err(|e| protocol_err(format!("bad reply: {e}")))
}
