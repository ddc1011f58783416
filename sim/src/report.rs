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
    /// Longest time without a good answer, ms.
    pub max_gap_ms: f64,
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
    /// Longest time any phone went without a good answer (outage incl. failover), ms.
    pub gap_max_ms: Option<f64>,
    /// 99th percentile of the phones' longest gaps, ms.
    pub gap_p99_ms: Option<f64>,
    /// Phones per final state.
    pub states: std::collections::BTreeMap<String, usize>,
    /// Phones per final relay.
    pub relays: std::collections::BTreeMap<usize, usize>,
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
    for (r, s) in rows.iter().zip(statuses) {
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
         cue restarted {} lost {} | states {:?} relays {:?}",
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
