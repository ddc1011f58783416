//! Shared evaluator test vectors (`shows/vectors/*.json`): sample times chosen to hit every
//! segment edge, loop wrap and past-the-end case, and the file layout both evaluators read.

use std::fmt::Write as _;

use crate::model::CompiledShow;

/// One expected evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// Cue index.
    pub cue: usize,
    /// Zone index.
    pub zone: usize,
    /// Milliseconds since the cue started.
    pub t: u64,
    /// Expected colour.
    pub rgb: [u8; 3],
    /// Expected torch state.
    pub torch: bool,
}

/// Deterministic pseudo-random generator (64-bit LCG) so vectors never change by accident.
fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}

/// Sample times for one cue: segment edges (t−1, t, t+1), thirds and halves of every segment,
/// pass end, loop wrap, far past the end and a few pseudo-random times.
pub fn sample_times(show: &CompiledShow, cue: usize) -> Vec<u64> {
    let Some(c) = show.cues.get(cue) else {
        return Vec::new();
    };
    let dur = c.dur;
    let mut ts = Vec::new();
    for seg in &c.segs {
        let (t, d) = (seg.start_ms(), seg.duration_ms());
        ts.extend([t.saturating_sub(1), t, t + 1, t + d / 3, t + d / 2]);
    }
    ts.extend([
        dur - 1,
        dur,
        dur + 1,
        dur + 7,
        2 * dur - 1,
        2 * dur + 3,
        10 * dur + 123,
        1_000_000_007,
        1_000_000_000_001,
    ]);
    let mut seed = 0x5eed_0000 + cue as u64;
    for _ in 0..8 {
        ts.push(lcg(&mut seed) % (2 * dur));
    }
    ts.sort_unstable();
    ts.dedup();
    ts
}

/// All cases of a show: every cue × zone × sample time.
pub fn cases(show: &CompiledShow) -> Vec<Case> {
    let mut out = Vec::new();
    for cue in 0..show.cues.len() {
        let times = sample_times(show, cue);
        for zone in 0..show.zones.len() {
            for &t in &times {
                out.push(Case {
                    cue,
                    zone,
                    t,
                    rgb: crate::eval::colour_at(show, zone, cue, t).into(),
                    torch: crate::eval::torch_at(show, zone, cue, t),
                });
            }
        }
    }
    out
}

/// The vector file for a show: `{"source", "id", "show", "cases"}` with one case per line.
/// `source` is the show's source path relative to the repository root.
pub fn vector_file(source: &str, show: &CompiledShow) -> String {
    let mut s = String::new();
    let q = |x: &str| serde_json::to_string(x).expect("string serialises");
    let _ = write!(
        s,
        "{{\"source\":{},\"id\":\"{}\",\n\"show\":{},\n\"cases\":[\n",
        q(source),
        show.id_hex(),
        show.to_json()
    );
    let all = cases(show);
    // Only a show that uses the torch lists it (the other files stay as they were).
    let with_torch = show.cues.iter().any(|c| c.torch);
    for (i, c) in all.iter().enumerate() {
        let sep = if i + 1 < all.len() { "," } else { "" };
        let torch = if with_torch {
            format!(",\"torch\":{}", c.torch)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "{{\"cue\":{},\"zone\":{},\"c\":{},\"z\":{},\"t\":{},\"rgb\":[{},{},{}]{torch}}}{sep}",
            q(&show.cues[c.cue].name),
            q(&show.zones[c.zone]),
            c.cue,
            c.zone,
            c.t,
            c.rgb[0],
            c.rgb[1],
            c.rgb[2]
        );
    }
    s.push_str("]}\n");
    s
}
