//! The sans-IO beacon core: operator commands and time go in, packets to send, state
//! snapshots to persist and the next wake-up time come out. It never reads a clock.
//!
//! Transmission: every state change sends a burst at +0, +20 and +50 ms, then the state is
//! repeated every 100 ms. GO schedules the cue at now + lead time (default 1.5 s) so every
//! poller learns of it before it starts.
//!
//! Cue ends: a cue whose end is `End` returns the beacon to `stopped` once its pass is over
//! (start + duration); the cue after it becomes the bare-`go` target. `Hold` and `Loop` cues
//! keep running until the operator changes the state. `resume` continues a held cue
//! immediately from where it froze (no lead time: a lead would replay earlier frames).
//!
//! Live layer: the lighting desk's held zones (`Command::Live`) are coalesced here (`engine/live.rs`),
//! so every relay and phone sees the same few layers; they ride every packet and are not
//! persisted (a restarted beacon waits for the desk to send again).

mod command;
mod live;
mod show;
mod text;

pub use command::{Command, CommandError, Reply, Status, list};
pub use live::{LIVE_INTERVAL_US, LIVE_LEAD_US};
pub use show::{CueInfo, ShowInfo, ShowInfoError, ShowSummary};
pub use text::shorten;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use shows::CueEnd;

use crate::wire::{NO_SHOW, Packet, State};

/// Offsets of the packets sent after every state change, µs.
pub const BURST_US: [u64; 3] = [0, 20_000, 50_000];
/// Default GO lead time, µs.
pub const DEFAULT_LEAD_US: u64 = 1_500_000;
/// Default repeat interval (10 Hz), µs.
pub const DEFAULT_REPEAT_US: u64 = 100_000;

/// Engine tunables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// GO lead time, µs.
    pub lead_us: u64,
    /// Interval between repeats of an unchanged state, µs.
    pub repeat_us: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            lead_us: DEFAULT_LEAD_US,
            repeat_us: DEFAULT_REPEAT_US,
        }
    }
}

/// What survives a restart (written atomically on every change; boot-independent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Source file of the loaded show.
    pub show_path: Option<PathBuf>,
    /// Id (hex) of the loaded show, to check the file did not change.
    pub show_id: Option<String>,
    /// The state, with its absolute times.
    pub state: State,
    /// The armed GO target.
    pub armed: Option<String>,
    /// The last cue that ran (the bare-`go` target is the cue after it).
    pub last_cue: Option<String>,
}

/// The beacon state machine.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    boot: u64,
    seq: u64,
    show: Option<ShowInfo>,
    state: State,
    armed: Option<String>,
    last_cue: Option<String>,
    /// Burst transmissions still due, ascending.
    burst: Vec<u64>,
    next_repeat_us: u64,
    persist_due: bool,
    live: live::Live,
}

impl Engine {
    /// A stopped engine with an optional show; sends its first burst at `now_us`.
    pub fn new(config: EngineConfig, boot: u64, now_us: u64, show: Option<ShowInfo>) -> Engine {
        let mut engine = Engine {
            config,
            boot,
            seq: 0,
            show,
            state: State::Stopped,
            armed: None,
            last_cue: None,
            burst: Vec::new(),
            next_repeat_us: now_us,
            persist_due: false,
            live: live::Live::default(),
        };
        engine.changed(now_us);
        engine
    }

    /// An engine resuming a persisted snapshot under a new boot id. `show` is the show the
    /// snapshot's file compiles to now; if its id differs (or it is missing) the engine comes
    /// up stopped with whatever show is given. Sends its first burst at `now_us`.
    pub fn restore(
        config: EngineConfig,
        boot: u64,
        now_us: u64,
        snapshot: Snapshot,
        show: Option<ShowInfo>,
    ) -> Engine {
        let mut engine = Engine::new(config, boot, now_us, show);
        let same_show = engine.show.as_ref().map(ShowInfo::id_hex) == snapshot.show_id;
        let known = |cue: &Option<String>| {
            cue.as_ref().is_none_or(|c| {
                engine
                    .show
                    .as_ref()
                    .is_some_and(|s| s.cue_index(c).is_some())
            })
        };
        if same_show
            && known(&snapshot.state.cue().map(str::to_owned))
            && known(&snapshot.armed)
            && known(&snapshot.last_cue)
        {
            engine.state = snapshot.state;
            engine.armed = snapshot.armed;
            engine.last_cue = snapshot.last_cue;
        } else {
            tracing::warn!(
                persisted = ?snapshot.show_id,
                "persisted state does not match the show file any more: starting stopped"
            );
        }
        engine.handle_timeout(now_us);
        engine
    }

    /// Applies one operator command at `now_us`.
    pub fn handle_command(&mut self, now_us: u64, cmd: Command) -> Result<Reply, CommandError> {
        self.handle_timeout(now_us);
        let message = match cmd {
            Command::Status => self.describe(now_us),
            Command::Load(show) => self.load(now_us, show),
            Command::Standby(cue) => {
                let show = self.show.as_ref().ok_or(CommandError::NoShow)?;
                check_cue(show, &cue)?;
                self.armed = Some(cue.clone());
                if matches!(self.state, State::Stopped | State::Standby { .. }) {
                    self.state = State::Standby { cue: cue.clone() };
                    self.changed(now_us);
                    format!("standby {cue}")
                } else {
                    self.changed(now_us);
                    format!(
                        "{cue} armed: the next `go` fires it ({} stays)",
                        self.state.name()
                    )
                }
            }
            Command::Go(cue) => {
                let show = self.show.as_ref().ok_or(CommandError::NoShow)?;
                let target = match cue {
                    Some(cue) => {
                        check_cue(show, &cue)?;
                        cue
                    }
                    None => self.next().ok_or_else(|| CommandError::NothingToGo {
                        valid: show.cue_names(),
                    })?,
                };
                let start_us = now_us.saturating_add(self.config.lead_us);
                self.state = State::Running {
                    cue: target.clone(),
                    start_us,
                };
                self.armed = None;
                self.last_cue = Some(target.clone());
                self.changed(now_us);
                format!(
                    "go {target}: starts at {} ({start_us} µs, in {} ms)",
                    clock_text(start_us),
                    self.config.lead_us / 1000
                )
            }
            Command::Hold => match self.state.clone() {
                State::Running { cue, start_us } => {
                    let offset_us = now_us.saturating_sub(start_us);
                    self.state = State::Hold {
                        cue: cue.clone(),
                        start_us,
                        offset_us,
                    };
                    self.changed(now_us);
                    format!("hold {cue} at {} ms", offset_us / 1000)
                }
                other => return Err(CommandError::NotRunning(other.name().into())),
            },
            Command::Resume => match self.state.clone() {
                State::Hold { cue, offset_us, .. } => {
                    let start_us = now_us.saturating_sub(offset_us);
                    self.state = State::Running {
                        cue: cue.clone(),
                        start_us,
                    };
                    self.changed(now_us);
                    format!(
                        "resume {cue} from {} ms now (start at {start_us} µs)",
                        offset_us / 1000
                    )
                }
                other => return Err(CommandError::NotHeld(other.name().into())),
            },
            Command::Blackout => {
                self.state = State::Blackout;
                self.changed(now_us);
                "blackout".to_owned()
            }
            Command::Stop => {
                self.state = State::Stopped;
                self.armed = None;
                self.changed(now_us);
                "stopped".to_owned()
            }
            Command::Live { zones, lost } => {
                let n = zones.len();
                let published = self
                    .live
                    .handle_set(now_us, self.show.as_ref(), zones, lost)?;
                if published {
                    self.announce(now_us);
                }
                match (published, self.live.poll_timeout()) {
                    (true, _) => format!("live: {n} zones held, published now"),
                    (false, Some(due)) => format!(
                        "live: {n} zones held, published in {} ms",
                        due.saturating_sub(now_us) / 1000
                    ),
                    (false, None) => format!("live: {n} zones held, unchanged"),
                }
            }
        };
        Ok(Reply {
            message,
            status: self.status(now_us),
        })
    }

    fn load(&mut self, now_us: u64, show: ShowInfo) -> String {
        let msg = format!(
            "loaded {:?} ({}) from {}: {} cues",
            show.title,
            show.id_hex(),
            show.path.display(),
            show.cues.len()
        );
        if self.show.as_ref().is_some_and(|s| s.id == show.id) {
            self.show = Some(show);
            self.persist_due = true;
            return format!("{msg}; same show as before, state unchanged");
        }
        self.show = Some(show);
        self.live.handle_show(now_us, self.show.as_ref());
        self.state = State::Stopped;
        self.armed = None;
        self.last_cue = None;
        self.changed(now_us);
        format!("{msg}; state: stopped")
    }

    /// Applies timers due at `now_us` (a cue with end `End` finishing, a deferred live layer).
    pub fn handle_timeout(&mut self, now_us: u64) {
        if self.live.handle_timeout(now_us) {
            self.announce(now_us);
        }
        if let Some(end_us) = self.cue_end_us()
            && now_us >= end_us
        {
            if let State::Running { cue, .. } = &self.state {
                tracing::info!(cue = %cue, "cue ended");
                self.last_cue = Some(cue.clone());
            }
            self.state = State::Stopped;
            self.changed(now_us);
        }
    }

    /// The next packet to send at `now_us`, if one is due. Call until it returns `None`.
    pub fn poll_transmit(&mut self, now_us: u64) -> Option<Packet> {
        self.handle_timeout(now_us);
        let burst_due = self.burst.first().is_some_and(|&t| t <= now_us);
        if !burst_due && self.next_repeat_us > now_us {
            return None;
        }
        self.burst.retain(|&t| t > now_us);
        self.next_repeat_us = now_us.saturating_add(self.config.repeat_us);
        self.seq += 1;
        Some(self.packet(now_us))
    }

    /// When the engine next needs `poll_transmit`/`handle_timeout`, µs in the beacon timebase.
    pub fn poll_timeout(&self) -> u64 {
        let mut t = self.next_repeat_us;
        if let Some(&b) = self.burst.first() {
            t = t.min(b);
        }
        if let Some(end) = self.cue_end_us() {
            t = t.min(end);
        }
        if let Some(live) = self.live.poll_timeout() {
            t = t.min(live);
        }
        t
    }

    /// The snapshot to persist, once after each change.
    pub fn poll_persist(&mut self) -> Option<Snapshot> {
        if !std::mem::take(&mut self.persist_due) {
            return None;
        }
        Some(self.snapshot())
    }

    /// The current persistent state.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            show_path: self.show.as_ref().map(|s| s.path.clone()),
            show_id: self.show.as_ref().map(ShowInfo::id_hex),
            state: self.state.clone(),
            armed: self.armed.clone(),
            last_cue: self.last_cue.clone(),
        }
    }

    /// The packet describing the current state (with the current seq) at `now_us`.
    pub fn packet(&self, now_us: u64) -> Packet {
        Packet {
            show: self.show.as_ref().map_or(NO_SHOW, |s| s.id),
            boot: self.boot,
            seq: self.seq,
            clock_us: now_us,
            state: self.state.clone(),
            next: self.next(),
            live: self.live.published().cloned(),
        }
    }

    /// The published live layer (what packets carry).
    pub fn live(&self) -> Option<&crate::wire::LiveLayer> {
        self.live.published()
    }

    /// The current state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The loaded show.
    pub fn show(&self) -> Option<&ShowInfo> {
        self.show.as_ref()
    }

    /// The cue a bare `go` fires: the armed cue, else the cue after the current (or last) one,
    /// else (nothing ran yet) the first cue.
    pub fn next(&self) -> Option<String> {
        let show = self.show.as_ref()?;
        if let Some(armed) = &self.armed {
            return Some(armed.clone());
        }
        let after = match &self.state {
            State::Standby { cue } => return Some(cue.clone()),
            State::Running { cue, .. } | State::Hold { cue, .. } => Some(cue.as_str()),
            State::Stopped | State::Blackout => self.last_cue.as_deref(),
        };
        match after {
            Some(cue) => show.cue_after(cue).map(str::to_owned),
            None => show.cues.first().map(|c| c.name.clone()),
        }
    }

    /// The status snapshot at `now_us`.
    pub fn status(&self, now_us: u64) -> Status {
        Status {
            state: self.state.name().to_owned(),
            cue: self.state.cue().map(str::to_owned),
            start_us: self.state.start_us(),
            offset_us: self.state.offset_us(),
            next: self.next(),
            seq: self.seq,
            boot: format!("{:016x}", self.boot),
            show: self.show.as_ref().map(ShowInfo::id_hex),
            show_info: self.show.as_ref().map(|s| ShowSummary {
                id: s.id_hex(),
                title: s.title.clone(),
                path: s.path.clone(),
                cues: s.cue_names(),
                durations_ms: s.cues.iter().map(|c| c.duration_ms).collect(),
                zones: s.zones.clone(),
            }),
            now_us,
            lead_ms: self.config.lead_us / 1000,
            live: self
                .live
                .wanted()
                .iter()
                .map(|(z, c)| (z.clone(), crate::desk::hex_colour(*c)))
                .collect(),
        }
    }

    fn describe(&self, now_us: u64) -> String {
        let show = self
            .show
            .as_ref()
            .map_or("no show".to_owned(), |s| format!("show {:?}", s.title));
        let what = match &self.state {
            State::Running { cue, start_us } if *start_us > now_us => {
                format!("running {cue}, starts in {} ms", (start_us - now_us) / 1000)
            }
            State::Running { cue, start_us } => {
                format!("running {cue} since {} ms", (now_us - start_us) / 1000)
            }
            State::Hold { cue, offset_us, .. } => {
                format!("hold {cue} at {} ms", offset_us / 1000)
            }
            State::Standby { cue } => format!("standby {cue}"),
            other => other.name().to_owned(),
        };
        let next = self
            .next()
            .map_or(String::new(), |n| format!(", next: {n}"));
        format!("{what}{next} ({show}, seq {})", self.seq)
    }

    /// When the running `End` cue finishes, µs.
    fn cue_end_us(&self) -> Option<u64> {
        let State::Running { cue, start_us } = &self.state else {
            return None;
        };
        let info = self.show.as_ref()?.cues.iter().find(|c| &c.name == cue)?;
        (info.end == CueEnd::End)
            .then(|| start_us.saturating_add(info.duration_ms.saturating_mul(1000)))
    }

    /// Schedules the change burst and a persist.
    fn changed(&mut self, now_us: u64) {
        self.announce(now_us);
        self.persist_due = true;
    }

    /// Schedules the change burst (the live layer is not persisted: a restarted beacon waits
    /// for the desk to send again).
    fn announce(&mut self, now_us: u64) {
        self.burst = BURST_US.iter().map(|d| now_us.saturating_add(*d)).collect();
    }
}

/// `HH:MM:SS.mmm UTC` of a beacon time (µs since the Unix epoch).
pub fn clock_text(t_us: u64) -> String {
    let ms_of_day = (t_us / 1000) % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03} UTC",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    )
}

fn check_cue(show: &ShowInfo, cue: &str) -> Result<(), CommandError> {
    if cue.len() > crate::wire::MAX_NAME {
        return Err(CommandError::CueNameTooLong(cue.len()));
    }
    match show.cue_index(cue) {
        Some(_) => Ok(()),
        None => Err(CommandError::UnknownCue {
            cue: cue.to_owned(),
            valid: show.cue_names(),
        }),
    }
}

#[cfg(test)]
mod tests;
