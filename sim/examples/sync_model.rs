//! The `/t` schedule and clock estimator of [`sim::sync`] on a virtual clock: thousands of
//! phones in seconds, to see what a change to the schedule costs and buys before measuring it
//! for real (bench/sync-schedule, bench/paths: real sockets, the real relay).
//!
//! Each phone's clock drifts uniformly within ±50 ppm (as `phonesim`'s do; `DRIFT_PPM` sets
//! another bound, the venue test's is 20); each one-way delay
//! is impair's default shape, a floor of `delay − jitter` plus an exponential tail of mean
//! `jitter`, and a "lost" chunk costs 200 ms more (impair's TCP retransmission). Exchanges of a
//! burst go one at a time (one connection); a steady-state sample rides the next `/s` answer
//! (a long-poll ends every 29 s).
//!
//! ```sh
//! cargo run --release -p sim --example sync_model -- [PHONES] [DELAY:JITTER ...]
//! ```
//! Prints, per path: `/t` per phone per minute over 120–180 s, and the clock error p50/p95/p99
//! (ms) at 10 s, 120 s and 180 s. Env: `BUDGET` (ms; default the wash cue's, [`MAX_BUDGET_MS`]),
//! `FIXED_MS` (after the join burst, one sample every FIXED_MS ± 25 % instead of the schedule:
//! what a fixed rate buys), `TRACE=SEED` (that phone's every exchange on stderr).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sim::sync::{ClockSync, MAX_BUDGET_MS, Schedule, make_sample};

fn fixed_every_ms() -> Option<f64> {
    std::env::var("FIXED_MS")
        .ok()
        .map(|v| v.parse().expect("FIXED_MS"))
}

const LOSS: f64 = 0.05;
const RETRANSMIT_MS: f64 = 200.0;
const LONG_POLL_MS: f64 = 29_000.0;
const END_MS: f64 = 180_000.0;
const SNAPSHOTS_MS: [f64; 3] = [10_000.0, 120_000.0, 180_000.0];
const WINDOW_FROM_MS: f64 = 120_000.0;

struct Path {
    delay: f64,
    jitter: f64,
}

impl Path {
    fn one_way(&self, rng: &mut impl Rng) -> f64 {
        let u: f64 = rng.random();
        let mut d = (self.delay - self.jitter).max(0.0) - self.jitter * (1.0 - u).ln();
        if rng.random::<f64>() < LOSS {
            d += RETRANSMIT_MS;
        }
        d
    }
}

struct Outcome {
    t_per_min: f64,
    errors: Vec<f64>,
}

fn phone(path: &Path, seed: u64) -> Outcome {
    let mut rng = StdRng::seed_from_u64(seed);
    let max_drift =
        std::env::var("DRIFT_PPM").map_or(50.0, |v| v.parse().expect("DRIFT_PPM")) * 1e-6;
    let drift = rng.random_range(-max_drift..=max_drift);
    let origin = rng.random_range(0.0..600_000.0);
    let local = |h: f64| origin + h * (1.0 + drift);
    let phase = rng.random_range(0.0..LONG_POLL_MS);
    let mut sync = ClockSync::default();
    let budget = std::env::var("BUDGET").map_or(MAX_BUDGET_MS, |v| v.parse().expect("BUDGET"));
    let mut schedule = Schedule::with_budget(budget);
    let mut errors = vec![f64::NAN; SNAPSHOTS_MS.len()];
    let mut snap = 0;
    let mut in_window = 0u32;
    let mut h = rng.random_range(0.0..100.0);
    while h < END_MS {
        let burst = schedule.burst();
        let up = path.one_way(&mut rng);
        let down = path.one_way(&mut rng);
        let (h1, h4) = (h, h + up + down);
        // Snapshots due before this exchange lands see the estimate without it.
        while snap < SNAPSHOTS_MS.len() && SNAPSHOTS_MS[snap] <= h4 {
            let at = SNAPSHOTS_MS[snap];
            if sync.synced() {
                errors[snap] = (sync.beacon_us(local(at)) / 1000.0 - at).abs();
            }
            snap += 1;
        }
        if h1 >= WINDOW_FROM_MS {
            in_window += 1;
        }
        sync.handle_sample(make_sample(local(h1), (h1 + up) * 1000.0, local(h4), burst));
        let mut ms = schedule.handle_sent(&sync, &mut rng);
        if std::env::var("TRACE").is_ok_and(|t| t == seed.to_string()) {
            eprintln!(
                "h {:8.0} burst {burst:2} n {:3} level {:6.2} bound {:6.2} drift {:6.1}±{:5.1} true {:6.1} pred40 {:6.2} err {:6.2} -> {:6.0}",
                h1,
                sync.samples.len(),
                sync.level_err_ms,
                sync.error_bound_ms,
                sync.drift_ppm,
                sync.drift_unc_ppm,
                -drift * 1e6,
                sync.predicted_error_ms(sync.ref_local + 40000.0),
                (sync.beacon_us(local(h4)) / 1000.0 - h4).abs(),
                ms
            );
        }
        let fixed = fixed_every_ms().filter(|_| schedule.burst() > 0);
        if let Some(f) = fixed {
            ms = f * rng.random_range(0.75..1.25);
        }
        let mut next = (h1 + ms / (1.0 + drift)).max(h4);
        if schedule.is_steady() && fixed.is_none() {
            // Rides the first /s answer after it is due.
            let k = ((next - phase) / LONG_POLL_MS).ceil();
            next = phase + k * LONG_POLL_MS;
        }
        h = next;
    }
    while snap < SNAPSHOTS_MS.len() {
        let at = SNAPSHOTS_MS[snap];
        errors[snap] = (sync.beacon_us(local(at)) / 1000.0 - at).abs();
        snap += 1;
    }
    Outcome {
        t_per_min: f64::from(in_window) / ((END_MS - WINDOW_FROM_MS) / 60_000.0),
        errors,
    }
}

fn quantile(xs: &mut [f64], q: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[((xs.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let phones: u64 = args.next().map_or(1000, |a| a.parse().expect("PHONES"));
    let paths: Vec<String> = args.collect();
    let paths = if paths.is_empty() {
        vec![
            "0:0".into(),
            "50:40".into(),
            "100:50".into(),
            "200:20".into(),
        ]
    } else {
        paths
    };
    for p in paths {
        let (d, j) = p.split_once(':').expect("DELAY:JITTER");
        let path = Path {
            delay: d.parse().expect("delay"),
            jitter: j.parse().expect("jitter"),
        };
        let outcomes: Vec<Outcome> = (0..phones).map(|s| phone(&path, s)).collect();
        let t = outcomes.iter().map(|o| o.t_per_min).sum::<f64>() / phones as f64;
        let mut line = format!("{p:>7}  /t {t:5.2}/min");
        for (i, at) in SNAPSHOTS_MS.iter().enumerate() {
            let mut e: Vec<f64> = outcomes
                .iter()
                .map(|o| o.errors[i])
                .filter(|e| e.is_finite())
                .collect();
            line += &format!(
                "  @{:>3}s p50 {:5.2} p95 {:5.2} p99 {:5.2}",
                at / 1000.0,
                quantile(&mut e, 0.5),
                quantile(&mut e, 0.95),
                quantile(&mut e, 0.99)
            );
        }
        println!("{line}");
    }
}
