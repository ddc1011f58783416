//! Percentiles and the clock.

use serde_json::{Value, json};

/// Host clock, µs since the Unix epoch (the beacon timebase on one machine).
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Nearest-rank percentile of sorted values.
pub fn pct(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// n, p50, p95, p99, max of `v` (sorted here).
pub fn summary(mut v: Vec<f64>) -> Value {
    v.sort_by(|a, b| a.total_cmp(b));
    json!({
        "n": v.len(),
        "p50": pct(&v, 50.0),
        "p95": pct(&v, 95.0),
        "p99": pct(&v, 99.0),
        "max": v.last(),
    })
}
