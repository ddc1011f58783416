//! The lighting desk input's IO: the sACN socket (UDP 5568, joined to the universe's group
//! on the beacon's interface, unicast accepted too) and the Art-Net socket (UDP 6454), fed to
//! the sans-IO [`Desk`] by one task. Its cue triggers, hold/resume/blackout and live layer go
//! through the operator command path (`operator::dispatch`), like OSC; ArtPollReplies go back
//! to the poller. Refused datagrams are counted (`beacon status --json` → `desk`) and logged
//! rate-limited.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

use socket2::{Domain, Protocol as SockProtocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::{Counters, EngineRequest, operator};
use crate::config::DeskSettings;
use crate::desk::{ControlAction, Desk, DeskAction, hex_colour, sacn};
use crate::operator_messages::Request;
use crate::shutdown::Shutdown;
use crate::timebase::Clock;

/// How often the status snapshot (`beacon status --json` → `desk`) is refreshed while no
/// datagram arrives (each datagram refreshes it), µs.
const STATUS_EVERY_US: u64 = 250_000;

/// The bound sockets.
#[derive(Debug)]
pub struct DeskSockets {
    sacn: Option<UdpSocket>,
    artnet: Option<UdpSocket>,
}

fn udp(port: u16) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(SockProtocol::UDP))?;
    // Several receivers on one host (a visualiser, OLA) may share the desk ports.
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).into())?;
    Ok(socket)
}

/// Binds the desk sockets (at start, so a problem stops the daemon with a clear error).
pub fn bind(settings: &DeskSettings) -> std::io::Result<DeskSockets> {
    let config = &settings.desk;
    let sacn = match config.sacn {
        Some(universe) => {
            let socket = udp(settings.sacn_port)?;
            socket.join_multicast_v4(&sacn::group(universe), &config.interface)?;
            Some(UdpSocket::from_std(socket.into())?)
        }
        None => None,
    };
    let artnet = match config.artnet {
        Some(_) => {
            let socket = udp(settings.artnet_port)?;
            socket.set_broadcast(true)?;
            Some(UdpSocket::from_std(socket.into())?)
        }
        None => None,
    };
    Ok(DeskSockets { sacn, artnet })
}

async fn recv(socket: Option<&UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match socket {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// Serves the desk until `shutdown`.
pub async fn serve(
    sockets: DeskSockets,
    settings: DeskSettings,
    clock: Clock,
    engine: mpsc::Sender<EngineRequest>,
    counters: Arc<Counters>,
    mut shutdown: Shutdown,
) {
    let mut desk = Desk::new(settings.desk.clone());
    let mut sacn_buf = vec![0u8; 2048];
    let mut artnet_buf = vec![0u8; 2048];
    let mut next_status_us = 0u64;
    let mut last_refusal_log: Option<std::time::Instant> = None;
    loop {
        let now = clock.now_us();
        let wake = desk
            .poll_timeout()
            .unwrap_or(u64::MAX)
            .min(next_status_us.max(now));
        let received = tokio::select! {
            () = shutdown.wait() => return,
            () = tokio::time::sleep_until(clock.instant_at(wake).into()) => None,
            r = recv(sockets.sacn.as_ref(), &mut sacn_buf) => Some((true, r)),
            r = recv(sockets.artnet.as_ref(), &mut artnet_buf) => Some((false, r)),
        };
        let now = clock.now_us();
        if received.is_some() {
            // Status answers what the desk just did (a few small clones per datagram).
            next_status_us = 0;
        }
        match received {
            None => {}
            Some((_, Err(e))) => {
                tracing::warn!(error = %e, "desk receive failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Some((true, Ok((len, from)))) => {
                if let Err(refusal) = desk.handle_sacn(now, from.ip(), &sacn_buf[..len]) {
                    log_refusal(&mut last_refusal_log, "sACN", from, len, refusal);
                }
            }
            Some((false, Ok((len, from)))) => {
                match desk.handle_artnet(now, from.ip(), &artnet_buf[..len]) {
                    Ok(Some(reply)) => {
                        if let Some(socket) = &sockets.artnet
                            && let Err(e) = socket.send_to(&reply, from).await
                        {
                            tracing::debug!(error = %e, %from, "ArtPollReply not sent");
                        }
                    }
                    Ok(None) => {}
                    Err(refusal) => {
                        log_refusal(&mut last_refusal_log, "Art-Net", from, len, refusal);
                    }
                }
            }
        }
        desk.handle_timeout(now);
        while let Some(action) = desk.poll_action() {
            act(action, &engine, &counters).await;
        }
        if let Some(held) = desk.poll_live() {
            let zones: BTreeMap<String, String> = held
                .iter()
                .map(|(z, c)| (z.clone(), hex_colour(*c)))
                .collect();
            let n = zones.len();
            let lost = desk.lost();
            let reply = operator::dispatch(Request::Live { zones, lost }, &engine, &counters).await;
            if !reply.ok {
                tracing::warn!(error = ?reply.error, zones = n, "desk live layer refused");
            }
            next_status_us = 0;
        }
        if now >= next_status_us {
            let status = desk.status(now);
            match counters.desk.lock() {
                Ok(mut g) => *g = Some(status),
                Err(poisoned) => *poisoned.into_inner() = Some(status),
            }
            next_status_us = now + STATUS_EVERY_US;
        }
    }
}

/// Logs at most one refused datagram every 5 s (a flood must not flood the log); all are
/// counted.
fn log_refusal(
    last: &mut Option<std::time::Instant>,
    protocol: &str,
    from: SocketAddr,
    len: usize,
    refusal: crate::desk::Refusal,
) {
    if last.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(5)) {
        *last = Some(std::time::Instant::now());
        tracing::warn!(%from, len, %refusal, "desk: refused {protocol} datagram (counted in `beacon status --json`)");
    } else {
        tracing::debug!(%from, len, %refusal, "desk: refused {protocol} datagram");
    }
}

/// Sends one desk action through the operator command path.
async fn act(action: DeskAction, engine: &mpsc::Sender<EngineRequest>, counters: &Counters) {
    let request = match action {
        DeskAction::GoNumber(n) => {
            // The N-th cue of the show loaded now (file order).
            let status = operator::dispatch(Request::Status, engine, counters).await;
            let cues = status
                .status
                .and_then(|s| s.show_info)
                .map(|s| s.cues)
                .unwrap_or_default();
            match cues.get(usize::from(n) - 1) {
                Some(cue) => Request::Go {
                    cue: Some(cue.clone()),
                },
                None => {
                    counters
                        .refused_commands
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(
                        value = n,
                        cues = cues.len(),
                        "desk trigger: the show has no cue {n}: nothing fired"
                    );
                    return;
                }
            }
        }
        DeskAction::Control(ControlAction::Hold) => Request::Hold,
        DeskAction::Control(ControlAction::Resume) => Request::Resume,
        DeskAction::Control(ControlAction::Blackout) => Request::Blackout,
    };
    tracing::info!(?action, ?request, "desk trigger");
    let reply = operator::dispatch(request, engine, counters).await;
    if !reply.ok {
        tracing::warn!(error = ?reply.error, "desk trigger refused");
    }
}
