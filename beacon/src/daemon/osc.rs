//! The OSC input's IO: one UDP socket; each datagram from an allowed sender is decoded by
//! [`crate::osc`] and its requests go through the operator socket's command path
//! (`operator::dispatch`). Refused datagrams are counted and logged (rate-limited).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::{Counters, EngineRequest, operator};
use crate::config::OscSettings;
use crate::osc;
use crate::shutdown::Shutdown;

/// Binds the OSC socket (at start, so a taken port stops the daemon with a clear error).
pub async fn bind(settings: &OscSettings) -> std::io::Result<UdpSocket> {
    UdpSocket::bind(settings.listen).await
}

/// Logs the 1st, 2nd, 4th, 8th, ... occurrence of a counted problem.
fn should_log(counter: &AtomicU64) -> bool {
    let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
    n.is_power_of_two()
}

/// Serves OSC datagrams forever.
pub async fn serve(
    socket: UdpSocket,
    settings: OscSettings,
    engine: mpsc::Sender<EngineRequest>,
    counters: Arc<Counters>,
    mut shutdown: Shutdown,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let received = tokio::select! {
            () = shutdown.wait() => return,
            received = socket.recv_from(&mut buf) => received,
        };
        let (len, from) = match received {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "OSC receive failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if !settings.permits(from.ip()) {
            if should_log(&counters.osc_denied) {
                tracing::warn!(
                    %from,
                    denied = counters.osc_denied.load(Ordering::Relaxed),
                    "OSC packet from a sender not in osc-allow: dropped"
                );
            }
            continue;
        }
        let requests = match osc::decode_datagram(&buf[..len]) {
            Ok(r) => r,
            Err(e) => {
                if should_log(&counters.osc_malformed) {
                    tracing::warn!(
                        %from,
                        error = %e,
                        malformed = counters.osc_malformed.load(Ordering::Relaxed),
                        "malformed OSC packet"
                    );
                }
                continue;
            }
        };
        for request in requests {
            tracing::info!(%from, ?request, "OSC command");
            let reply = operator::dispatch(request, &engine, &counters).await;
            if reply.ok {
                counters.osc_commands.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
