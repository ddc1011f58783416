//! Summaries of measured values and the clock.

use serde_json::{Value, json};
use sim::report::percentile;

/// Host clock, µs since the Unix epoch (the beacon timebase on one machine).
pub use sim::phone::host_now_us as now_us;

/// n, p50, p95, p99, max of `v` (sorted here).
pub fn summary(mut v: Vec<f64>) -> Value {
    v.sort_by(|a, b| a.total_cmp(b));
    json!({
        "n": v.len(),
        "p50": percentile(&v, 50.0),
        "p95": percentile(&v, 95.0),
        "p99": percentile(&v, 99.0),
        "max": v.last(),
    })
}
