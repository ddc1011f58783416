//! Turning phone statuses into figures: per-phone rows, percentiles of the clock error, the
//! spread of rendered cue starts, error and failover counts, and the JSON report.

use serde::Serialize;

use crate::phone::{ErrorCounts, PhoneStatus};

/// Nearest-rank percentile (`p` in 0..=100) of sorted values; `None` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// One phone in the report.
#[derive(Debug, Clone, Serialize)]
pub struct PhoneRow {
    /// Phone number.
    pub phone: usize,
    /// Relay it started on.
    pub first_relay: usize,
    /// Relay it ended on.
    pub relay: usize,
    /// Relay switches.
    pub failovers: u64,
    /// Requests sent.
    pub requests: u64,
    /// Errors.
    pub errors: u64,
    /// `/t` samples taken.
    pub samples: u64,
    /// Lowest `/t` round trip, ms.
    pub min_rtt_ms: Option<f64>,
    /// Estimated beacon time − host time at the report instant, ms.
    pub clock_error_ms: Option<f64>,
    /// State last seen.
    pub state: Option<String>,
    /// Cue last seen.
    pub cue: Option<String>,
    /// Cue start from `/s` (beacon µs).
    pub at_us: Option<i64>,
    /// When this phone renders cue time 0, in host-clock µs (`at` − clock error).
    pub render_start_host_us: Option<f64>,
    /// Distinct running `(cue, at)` seen (1 = never restarted).
    pub running_keys: usize,
    /// Times the running cue was lost (state left running).
    pub left_running: u64,
    /// Captive probe would open the portal.
    pub captive_ok: Option<bool>,
    /// Page and show were fetched.
    pub page_ok: bool,
    /// Show fetched.
    pub show_ok: bool,
    /// Longest outage (first failed request to the next good answer), ms.
    pub max_gap_ms: f64,
    /// The phone's true clock drift as an offset slope, ppm (its clock runs fast: negative).
    pub true_drift_ppm: Option<f64>,
    /// The drift its estimator believes, ppm, and that belief's uncertainty (±).
    pub drift_ppm: Option<f64>,
    /// See `drift_ppm`.
    pub drift_unc_ppm: Option<f64>,
    /// The estimator's likely error of its level, ms.
    pub level_err_ms: Option<f64>,
    /// The budget the current cue asked of the `/t` schedule, ms (none: the fixed default).
    pub sync_budget_ms: Option<f64>,
}

impl PhoneRow {
    /// Row for phone `index` at host time `host_us`.
    pub fn new(index: usize, s: &PhoneStatus, host_us: i64) -> Self {
        let err = s.clock_error_us(host_us);
        let at = s.state.as_ref().and_then(|d| d.at);
        PhoneRow {
            phone: index,
            first_relay: s.first_relay,
            relay: s.relay,
            failovers: s.failovers,
            requests: s.requests,
            errors: s.errors.total(),
            samples: s.samples,
            min_rtt_ms: s.model.map(|m| m.min_rtt_ms),
            clock_error_ms: err.map(|e| e / 1000.0),
            state: s.state.as_ref().map(|d| d.state.clone()),
            cue: s.state.as_ref().and_then(|d| d.cue.clone()),
            at_us: at,
            render_start_host_us: at.zip(err).map(|(a, e)| a as f64 - e),
            running_keys: s.running_keys.len(),
            left_running: s.left_running,
            captive_ok: s.captive_ok,
            page_ok: s.page_ok,
            show_ok: s.show_ok,
            max_gap_ms: s.max_gap_us as f64 / 1000.0,
            true_drift_ppm: s.clock.map(|c| -c.drift / (1.0 + c.drift) * 1e6),
            drift_ppm: s.model.map(|m| m.drift_ppm),
            drift_unc_ppm: s.model.map(|m| m.drift_unc_ppm),
            level_err_ms: s.model.map(|m| m.level_err_ms),
            sync_budget_ms: s.sync_budget_ms,
        }
    }
}

/// The figures of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Phones simulated.
    pub phones: usize,
    /// Phones with a clock model.
    pub synced: usize,
    /// Absolute clock error percentiles, ms.
    pub err_p50_ms: Option<f64>,
    /// 95th percentile.
    pub err_p95_ms: Option<f64>,
    /// 99th percentile.
    pub err_p99_ms: Option<f64>,
    /// Largest.
    pub err_max_ms: Option<f64>,
    /// Latest minus earliest rendered cue start among phones on the same cue start, ms.
    pub render_spread_ms: Option<f64>,
    /// Requests sent.
    pub requests: u64,
    /// Errors by kind.
    pub errors: ErrorCounts,
    /// Phones that switched relay at least once.
    pub phones_failed_over: usize,
    /// Phones that saw more than one running `(cue, at)` (a restarted cue).
    pub phones_cue_restarted: usize,
    /// Phones whose running cue was lost at least once.
    pub phones_cue_lost: usize,
    /// Phones whose captive probe would open the portal.
    pub captive_ok: usize,
    /// Phones that got the page.
    pub page_ok: usize,
    /// Phones that got the show.
    pub show_ok: usize,
    /// Longest outage of any phone (first failed request to the next good answer, incl. failover), ms.
    pub gap_max_ms: Option<f64>,
    /// 99th percentile of the phones' longest gaps, ms.
    pub gap_p99_ms: Option<f64>,
    /// Phones per final state.
    pub states: std::collections::BTreeMap<String, usize>,
    /// Phones per final relay.
    pub relays: std::collections::BTreeMap<usize, usize>,
    /// Phones that long-polled (`/s?after=`) at least once.
    pub long_polling: usize,
    /// The newest running cue start (`at`, beacon µs) seen by any phone.
    pub last_cue_at_us: Option<i64>,
    /// Phones that learned that cue.
    pub last_cue_phones: usize,
    /// Of those, the share (%) that learned it before it started (`at`).
    pub last_cue_before_start_pct: Option<f64>,
    /// When the phones learned it, after the first phone did: p50, ms.
    pub last_cue_learn_p50_ms: Option<f64>,
    /// Same, p99, ms.
    pub last_cue_learn_p99_ms: Option<f64>,
}

/// Request and byte rates per phone per minute between two snapshots of the same phones.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rates {
    /// Length of the interval, s.
    pub window_s: f64,
    /// `/s` requests per phone per minute.
    pub state_per_phone_min: f64,
    /// `/t` requests per phone per minute.
    pub time_per_phone_min: f64,
    /// All requests per phone per minute.
    pub requests_per_phone_min: f64,
    /// HTTP bytes (heads + bodies, both ways) per phone per minute.
    pub http_bytes_per_phone_min: f64,
}

/// Rates between snapshot `a` and the later `b` taken `window_s` apart.
pub fn rates(a: &[PhoneStatus], b: &[PhoneStatus], window_s: f64) -> Rates {
    let n = b.len().max(1) as f64;
    let per_min = |f: &dyn Fn(&PhoneStatus) -> u64| {
        let d: u64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| f(y).saturating_sub(f(x)))
            .sum();
        d as f64 / n / window_s.max(1e-9) * 60.0
    };
    Rates {
        window_s,
        state_per_phone_min: per_min(&|s| s.state_requests),
        time_per_phone_min: per_min(&|s| s.time_requests),
        requests_per_phone_min: per_min(&|s| s.requests),
        http_bytes_per_phone_min: per_min(&|s| s.http_bytes),
    }
}

/// Summarise `statuses` at host time `host_us`.
pub fn summarise(statuses: &[PhoneStatus], host_us: i64) -> (Summary, Vec<PhoneRow>) {
    let rows: Vec<PhoneRow> = statuses
        .iter()
        .enumerate()
        .map(|(i, s)| PhoneRow::new(i, s, host_us))
        .collect();
    let mut errs: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.clock_error_ms.map(f64::abs))
        .collect();
    errs.sort_by(f64::total_cmp);
    let mut sum = Summary {
        phones: rows.len(),
        synced: errs.len(),
        err_p50_ms: percentile(&errs, 50.0),
        err_p95_ms: percentile(&errs, 95.0),
        err_p99_ms: percentile(&errs, 99.0),
        err_max_ms: errs.last().copied(),
        ..Summary::default()
    };
    let mut gaps: Vec<f64> = rows.iter().map(|r| r.max_gap_ms).collect();
    gaps.sort_by(f64::total_cmp);
    sum.gap_max_ms = gaps.last().copied();
    sum.gap_p99_ms = percentile(&gaps, 99.0);
    // Spread of rendered starts among phones on the most common cue start.
    let mut by_at: std::collections::BTreeMap<i64, Vec<f64>> = Default::default();
    for r in &rows {
        if let (Some(at), Some(start)) = (r.at_us, r.render_start_host_us) {
            by_at.entry(at).or_default().push(start);
        }
    }
    if let Some(starts) = by_at.values().max_by_key(|v| v.len()) {
        let lo = starts.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = starts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        sum.render_spread_ms = Some((hi - lo) / 1000.0);
    }
    // The newest cue: who learned it, and when relative to the first phone and to its start.
    let newest = statuses
        .iter()
        .filter_map(|s| s.running_keys.iter().map(|k| k.1).max())
        .max();
    if let Some(at) = newest {
        let mut seen: Vec<i64> = statuses
            .iter()
            .filter_map(|s| {
                let i = s.running_keys.iter().position(|k| k.1 == at)?;
                s.running_seen_us.get(i).copied()
            })
            .collect();
        seen.sort_unstable();
        if let Some(&first) = seen.first() {
            let after: Vec<f64> = seen.iter().map(|t| (t - first) as f64 / 1000.0).collect();
            sum.last_cue_at_us = Some(at);
            sum.last_cue_phones = seen.len();
            sum.last_cue_before_start_pct =
                Some(100.0 * seen.iter().filter(|&&t| t <= at).count() as f64 / seen.len() as f64);
            sum.last_cue_learn_p50_ms = percentile(&after, 50.0);
            sum.last_cue_learn_p99_ms = percentile(&after, 99.0);
        }
    }
    for (r, s) in rows.iter().zip(statuses) {
        sum.long_polling += usize::from(s.long_polls > 0);
        sum.requests += r.requests;
        sum.errors.connect += s.errors.connect;
        sum.errors.timeout += s.errors.timeout;
        sum.errors.io += s.errors.io;
        sum.errors.status += s.errors.status;
        sum.errors.garbled += s.errors.garbled;
        sum.phones_failed_over += usize::from(r.failovers > 0);
        sum.phones_cue_restarted += usize::from(r.running_keys > 1);
        sum.phones_cue_lost += usize::from(r.left_running > 0);
        sum.captive_ok += usize::from(r.captive_ok == Some(true));
        sum.page_ok += usize::from(r.page_ok);
        sum.show_ok += usize::from(r.show_ok);
        *sum.states
            .entry(r.state.clone().unwrap_or_else(|| "none".into()))
            .or_default() += 1;
        *sum.relays.entry(r.relay).or_default() += 1;
    }
    (sum, rows)
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

/// One human line of figures.
pub fn one_line(s: &Summary) -> String {
    format!(
        "phones {} synced {} | clock error ms p50 {} p95 {} p99 {} max {} | render spread ms {} | \
         requests {} errors {} (connect {} timeout {} io {} status {} garbled {}) | failed over {} | \
         longest gap ms p99 {} max {} | \
         cue restarted {} lost {} | states {:?} relays {:?} | long-polling {} | newest cue: {} \
         phones, {}% before its start, learned p50 {} p99 {} ms after the first",
        s.phones,
        s.synced,
        ms(s.err_p50_ms),
        ms(s.err_p95_ms),
        ms(s.err_p99_ms),
        ms(s.err_max_ms),
        ms(s.render_spread_ms),
        s.requests,
        s.errors.total(),
        s.errors.connect,
        s.errors.timeout,
        s.errors.io,
        s.errors.status,
        s.errors.garbled,
        s.phones_failed_over,
        ms(s.gap_p99_ms),
        ms(s.gap_max_ms),
        s.phones_cue_restarted,
        s.phones_cue_lost,
        s.states,
        s.relays,
        s.long_polling,
        s.last_cue_phones,
        ms(s.last_cue_before_start_pct),
        ms(s.last_cue_learn_p50_ms),
        ms(s.last_cue_learn_p99_ms),
    )
}

/// One human line of rates.
pub fn rates_line(r: &Rates) -> String {
    format!(
        "per phone per minute over the last {:.0} s: /s {:.2}, /t {:.2}, all requests {:.2}, \
         HTTP bytes {:.0}",
        r.window_s,
        r.state_per_phone_min,
        r.time_per_phone_min,
        r.requests_per_phone_min,
        r.http_bytes_per_phone_min
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[3.0], 99.0), Some(3.0));
    }

    #[test]
    fn summary_counts_restarts_and_states() {
        let a = PhoneStatus {
            running_keys: vec![("x".into(), 1), ("x".into(), 2)],
            ..PhoneStatus::default()
        };
        let b = PhoneStatus {
            left_running: 1,
            ..PhoneStatus::default()
        };
        let (s, rows) = summarise(&[a, b], 0);
        assert_eq!((s.phones, s.synced), (2, 0));
        assert_eq!((s.phones_cue_restarted, s.phones_cue_lost), (1, 1));
        assert_eq!(s.states.get("none"), Some(&2));
        assert_eq!(rows.len(), 2);
    }
}
