//! Default filesystem locations: the operator socket and the state file.

use std::path::{Path, PathBuf};

/// Environment variable overriding the operator socket path.
pub const SOCKET_ENV: &str = "CROWDLIGHT_SOCKET";

/// The contract default: `$XDG_RUNTIME_DIR/crowdlight/beacon.sock`, else
/// `/tmp/crowdlight-$UID/beacon.sock`.
pub fn default_socket_path() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("crowdlight/beacon.sock"),
        None => PathBuf::from(format!(
            "/tmp/crowdlight-{}/beacon.sock",
            rustix::process::getuid().as_raw()
        )),
    }
}

/// The default state file: `beacon-state.json` next to the socket.
pub fn default_state_path(socket: &Path) -> PathBuf {
    socket
        .parent()
        .unwrap_or(Path::new("."))
        .join("beacon-state.json")
}
