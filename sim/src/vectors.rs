//! Test vectors for the page's clock sync: synthetic `/t` traces (jitter, loss, drift, a
//! timebase step, a relay switch, garbage) and what [`crate::sync`] answers after every sample.
//! `sim/vectors/sync.json` is this module's output; `tests` keep the file current
//! (`SIM_UPDATE_VECTORS=1 cargo test -p sim` rewrites it) and the page's node tests check that
//! `page/src/sync.js` gives the same answers (numbers within [`TOLERANCE`]).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::sync::{ClockSync, Schedule, burst_settled, make_sample};

/// Largest difference allowed between the port and sync.js (ms, and ppm for drift).
pub const TOLERANCE: f64 = 1e-6;

/// One fed sample and the estimator's state after it.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Local ms at send.
    pub t1: f64,
    /// Server stamp, µs.
    pub t_us: f64,
    /// Local ms at receipt.
    pub t4: f64,
    /// Burst number.
    pub burst: u32,
    /// `handleSample(makeSample(...))` returned true.
    pub accepted: bool,
    /// `samples.length` afterwards.
    pub kept: usize,
    /// `baseOffset` (null before the first accepted sample).
    pub base_offset: Option<f64>,
    /// `driftPpm`.
    pub drift_ppm: f64,
    /// `driftUncPpm`.
    pub drift_unc_ppm: f64,
    /// `levelErrMs` (null before the first accepted sample).
    pub level_err_ms: Option<f64>,
    /// `predictedErrorMs(t4 + 10000)` (null before the first accepted sample).
    pub predicted_after_10s: Option<f64>,
    /// `refLocal`.
    pub ref_local: f64,
    /// `errorBoundMs` (null before the first accepted sample).
    pub error_bound_ms: Option<f64>,
    /// `offsetAt(t4 + 1000)` (null before the first accepted sample).
    pub offset_after_1s: Option<f64>,
    /// `converged`.
    pub converged: bool,
    /// `burstSettled(samples, burst, 2)`.
    pub settled: bool,
    /// A `Schedule` that has seen every step so far, each followed by `handleSent(sync, rand)`
    /// with `rand` always 0.5: the delay it returned, ms.
    pub next_ms: f64,
    /// That schedule's `steady` afterwards.
    pub steady: bool,
}

/// An `Rng` whose every `random::<f64>()` is 0.5 (the JS side uses `() => 0.5`).
struct Half;

impl rand::RngCore for Half {
    fn next_u32(&mut self) -> u32 {
        1 << 31
    }
    fn next_u64(&mut self) -> u64 {
        1 << 63
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        dst.fill(0);
    }
}

/// One trace.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// What it exercises.
    pub name: String,
    /// Samples in the order they are fed.
    pub steps: Vec<Step>,
}

/// The budget while one cue (or none) of one of the shows' vector files plays.
#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    /// The file under `shows/vectors/`.
    pub file: String,
    /// Cue index; -1: no cue known.
    pub cue: i64,
    /// `budgetFor(show, cue)`.
    pub budget_ms: f64,
}

/// The whole file.
#[derive(Debug, Clone, Serialize)]
pub struct Vectors {
    /// How to use the file.
    pub about: String,
    /// Allowed difference.
    pub tolerance: f64,
    /// Traces.
    pub cases: Vec<Case>,
    /// Sync budgets of the shows in `shows/vectors/`, per cue and with no cue known.
    pub budgets: Vec<Budget>,
}

/// The compiled shows of `shows/vectors/` (each file's `show`).
const SHOW_VECTORS: [(&str, &str); 4] = [
    (
        "minimal.json",
        include_str!("../../shows/vectors/minimal.json"),
    ),
    ("edges.json", include_str!("../../shows/vectors/edges.json")),
    (
        "intermission.json",
        include_str!("../../shows/vectors/intermission.json"),
    ),
    ("sync.json", include_str!("../../shows/vectors/sync.json")),
];

fn budgets() -> Vec<Budget> {
    let mut out = Vec::new();
    for (file, text) in SHOW_VECTORS {
        let v: serde_json::Value = serde_json::from_str(text).expect("shows/vectors JSON");
        let show = &v["show"];
        let cues = show["cues"].as_array().map_or(0, Vec::len);
        for cue in std::iter::once(None).chain((0..cues).map(Some)) {
            out.push(Budget {
                file: file.into(),
                cue: cue.map_or(-1, |c| c as i64),
                budget_ms: crate::sync::budget_for(show, cue),
            });
        }
    }
    out
}

/// A simulated exchange world: true offset `s0 + rho·τ` (ms), per-direction delays.
struct World {
    rng: StdRng,
    s0: f64,
    rho: f64,
    loss: f64,
    step_at: f64,
    step_ms: f64,
    relay_skew_ms: f64,
    /// A LAN-like path: 1 ms floors and ~1 ms exponential jitter each way, no spikes.
    quiet: bool,
}

impl World {
    fn truth(&self, tau: f64) -> f64 {
        let step = if tau >= self.step_at {
            self.step_ms
        } else {
            0.0
        };
        self.s0 + self.rho * tau + step
    }

    /// One exchange at local `t1`; `None` when lost.
    fn exchange(&mut self, t1: f64, burst: u32, relay: usize) -> Option<(f64, f64, f64, u32)> {
        if self.rng.random::<f64>() < self.loss {
            return None;
        }
        let spike = |rng: &mut StdRng| {
            if rng.random::<f64>() < 0.02 {
                400.0 * rng.random::<f64>()
            } else {
                0.0
            }
        };
        let (up, down) = if self.quiet {
            let up = 1.0 - (1.0 - self.rng.random::<f64>()).ln();
            (up, 1.0 - (1.0 - self.rng.random::<f64>()).ln())
        } else {
            let up = 50.0 + 100.0 * self.rng.random::<f64>() + spike(&mut self.rng);
            (
                up,
                50.0 + 100.0 * self.rng.random::<f64>().powi(2) + spike(&mut self.rng),
            )
        };
        let skew = if relay == 1 { self.relay_skew_ms } else { 0.0 };
        let server_ms = self.truth(t1 + up) + (t1 + up) + skew;
        let q = |x: f64| (x * 10.0).round() / 10.0;
        Some((
            q(t1),
            (server_ms * 1000.0).round(),
            q(t1 + up + 0.05 + down),
            burst,
        ))
    }
}

/// The page's requests from `start` until `end` (at least the join burst), scheduled by
/// [`Schedule`] with the answers that have arrived when each request leaves; answers in arrival
/// order.
fn session(world: &mut World, start: f64, end: f64, switch_at: f64) -> Vec<(f64, f64, f64, u32)> {
    let mut sync = ClockSync::default();
    let mut schedule = Schedule::default();
    let mut in_flight: Vec<(f64, f64, f64, u32)> = Vec::new();
    let mut answers = Vec::new();
    let mut t = start;
    while schedule.burst() == 0 || t < end {
        in_flight.sort_by(|a, b| a.2.total_cmp(&b.2));
        let arrived = in_flight.iter().take_while(|a| a.2 <= t).count();
        for a in in_flight.drain(..arrived) {
            sync.handle_sample(make_sample(a.0, a.1, a.2, a.3));
            answers.push(a);
        }
        let burst = schedule.burst();
        if let Some(a) = world.exchange(t, burst, usize::from(t >= switch_at)) {
            in_flight.push(a);
        }
        t += schedule.handle_sent(&sync, &mut world.rng);
    }
    in_flight.sort_by(|a, b| a.2.total_cmp(&b.2));
    answers.extend(in_flight);
    answers
}

fn run(name: &str, feed: &[(f64, f64, f64, u32)]) -> Case {
    let mut sync = ClockSync::default();
    let mut schedule = Schedule::default();
    let steps = feed
        .iter()
        .map(|&(t1, t_us, t4, burst)| {
            let accepted = sync.handle_sample(make_sample(t1, t_us, t4, burst));
            let synced = sync.synced();
            let next_ms = schedule.handle_sent(&sync, &mut Half);
            Step {
                t1,
                t_us,
                t4,
                burst,
                accepted,
                kept: sync.samples.len(),
                base_offset: synced.then_some(sync.base_offset),
                drift_ppm: sync.drift_ppm,
                drift_unc_ppm: sync.drift_unc_ppm,
                level_err_ms: synced.then_some(sync.level_err_ms),
                predicted_after_10s: synced.then(|| sync.predicted_error_ms(t4 + 10_000.0)),
                ref_local: sync.ref_local,
                error_bound_ms: synced.then_some(sync.error_bound_ms),
                offset_after_1s: synced.then(|| sync.offset_at(t4 + 1000.0)),
                converged: sync.converged(),
                settled: burst_settled(&sync.samples, burst, 2),
                next_ms,
                steady: schedule.is_steady(),
            }
        })
        .collect();
    Case {
        name: name.into(),
        steps,
    }
}

fn world(seed: u64, drift_ms_per_day: f64) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let s0 = 1.764e12 + rng.random::<f64>() * 1e9;
    World {
        rng,
        s0,
        rho: drift_ms_per_day / 86_400_000.0,
        loss: 0.05,
        step_at: f64::INFINITY,
        step_ms: 0.0,
        relay_skew_ms: 0.0,
        quiet: false,
    }
}

/// Build every case.
pub fn build() -> Vectors {
    let mut cases = Vec::new();

    let mut w = world(1, 0.0);
    cases.push(run(
        "join-burst",
        &session(&mut w, 1000.0, 0.0, f64::INFINITY),
    ));

    let mut w = world(2, 150.0);
    let feed = session(&mut w, 1000.0, 15.0 * 60_000.0, f64::INFINITY);
    cases.push(run("15-min-150-ms-per-day-drift", &feed));

    let mut w = world(3, -40.0);
    w.step_at = 70_000.0;
    w.step_ms = 2000.0;
    let feed = session(&mut w, 1000.0, 150_000.0, f64::INFINITY);
    cases.push(run("timebase-step-2s", &feed));

    let mut w = world(4, 20.0);
    w.relay_skew_ms = 0.8;
    let feed = session(&mut w, 1000.0, 150_000.0, 40_000.0);
    cases.push(run("relay-switch-0.8ms-skew", &feed));

    let mut w = world(5, 150.0);
    w.quiet = true;
    w.loss = 0.01;
    let feed = session(&mut w, 1000.0, 15.0 * 60_000.0, f64::INFINITY);
    cases.push(run("quiet-lan-adaptive-bursts-then-singles", &feed));

    let mut w = world(6, 50e-6 * 86_400_000.0);
    let feed = session(&mut w, 1000.0, 10.0 * 60_000.0, f64::INFINITY);
    cases.push(run("10-min-50-ppm-drift", &feed));

    let garbage = [
        (100.0, 5e15, 90.0, 0),    // answer before request
        (100.0, 5e15, 3200.0, 0),  // too slow
        (100.0, 5e15, 3100.0, 0),  // exactly on the limit plus 0
        (200.0, 5e15, 260.0, 0),   // fine
        (300.0, -1e300, 350.0, 0), // absurd but finite server stamp: step
        (400.0, 5e15 + 2e5, 460.0, 0),
    ];
    cases.push(run("garbage", &garbage));

    Vectors {
        about:
            "Clock-sync vectors written by sim::vectors from the Rust port of page/src/sync.js. \
                For each case, feed steps in order: handleSample(makeSample(t1, t_us, t4, burst)); \
                after each, compare accepted, kept = samples.length, and baseOffset, \
                driftPpm, driftUncPpm, refLocal, errorBoundMs, levelErrMs, offsetAt(t4 + 1000), \
                predictedErrorMs(t4 + 10000) within `tolerance` (null: not synced yet), \
                converged, and settled = burstSettled(samples, burst, 2); a Schedule fed \
                handleSent(sync, () => 0.5) after every step returns next_ms and is steady. \
                budgets: budgetFor(show, cue) for the `show` of each shows/vectors file (cue -1: none known)."
                .into(),
        tolerance: TOLERANCE,
        cases,
        budgets: budgets(),
    }
}

/// The file's text.
pub fn to_json() -> String {
    let mut s = serde_json::to_string_pretty(&build()).expect("vectors serialise");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_file_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/sync.json");
        let fresh = to_json();
        if std::env::var_os("SIM_UPDATE_VECTORS").is_some() {
            std::fs::write(path, &fresh).expect("write vectors");
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == fresh,
            "sim/vectors/sync.json is stale: SIM_UPDATE_VECTORS=1 cargo test -p sim"
        );
    }

    #[test]
    fn traces_track_the_truth() {
        let v = build();
        for case in &v.cases[..5] {
            let last = case.steps.last().expect("steps");
            assert!(last.base_offset.is_some(), "{}", case.name);
            // The join burst may settle after its minimum.
            assert!(
                case.steps.len() >= crate::sync::JOIN_BURST_MIN as usize,
                "{}",
                case.name
            );
        }
    }
}
