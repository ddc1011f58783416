//! The hall plan of a show (`[layout]`, optional): where each zone sits, as a polygon or a block
//! of seats, in metres on a plan seen from above with the stage at the top. Authoring data
//! only: it is checked with the show (unknown, unplaced, doubly placed, empty and overlapping
//! zones are located problems) but never enters the compiled show, so it changes no show id.
//! The console draws the hall from it. Units and origin: `shows/FORMAT.md` §1 "Layout".

use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// Largest plan side, metres.
pub const MAX_PLAN_M: f64 = 1000.0;
/// Most corners of one zone's polygon.
pub const MAX_CORNERS: usize = 64;
/// Most seats in one block.
pub const MAX_SEATS: u64 = 100_000;

/// `[layout]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLayout {
    /// Plan width (x), metres.
    pub width: Spanned<f64>,
    /// Plan depth (y, away from the stage), metres.
    pub depth: Spanned<f64>,
    /// One entry per zone (`[[layout.zone]]`).
    #[serde(default, rename = "zone")]
    pub zones: Vec<Spanned<RawPlace>>,
}

/// One `[[layout.zone]]`: a zone and its place, a polygon or a block of seats.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlace {
    /// The zone's name.
    pub zone: Spanned<String>,
    /// Corners `[x, y]` in order (either direction), metres.
    #[serde(default)]
    pub polygon: Option<Spanned<Vec<[f64; 2]>>>,
    /// A rectangular block of seats.
    #[serde(default)]
    pub seats: Option<Spanned<Seats>>,
}

/// A block of `rows` × `per_row` seats whose first seat's corner is at (`x`, `y`); rows run
/// along x, one behind the other away from the stage.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Seats {
    /// Left edge of the block, metres.
    pub x: f64,
    /// Stage-side edge of the block, metres.
    pub y: f64,
    /// Rows in the block.
    pub rows: u64,
    /// Seats in each row.
    pub per_row: u64,
    /// Width of one seat, metres (default 0.5).
    #[serde(default = "default_pitch")]
    pub pitch: f64,
    /// Depth of one row, metres (default 0.9).
    #[serde(default = "default_row_pitch")]
    pub row_pitch: f64,
}

fn default_pitch() -> f64 {
    0.5
}

fn default_row_pitch() -> f64 {
    0.9
}

/// A checked hall plan, as the console draws it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layout {
    /// Plan width, metres.
    pub width: f64,
    /// Plan depth, metres.
    pub depth: f64,
    /// Every zone of the show, in zone order.
    pub zones: Vec<Place>,
}

/// Where one zone is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Place {
    /// Zone index (as in the compiled show).
    pub zone: usize,
    /// Outline, metres (a seat block's outline is its rectangle).
    pub polygon: Vec<[f64; 2]>,
    /// The seats, when the zone is a seat block.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seats: Option<Seats>,
}

/// Checks a layout against the show's zones; each problem goes to `problem(span, message)`.
/// Returns the layout when it has no problem.
pub fn check(
    raw: &RawLayout,
    zones: &[&str],
    whole: Range<usize>,
    problem: &mut dyn FnMut(Range<usize>, String),
) -> Option<Layout> {
    let before = std::cell::Cell::new(0usize);
    let mut report = |span: Range<usize>, message: String| {
        before.set(before.get() + 1);
        problem(span, message);
    };
    let (width, depth) = (*raw.width.get_ref(), *raw.depth.get_ref());
    for (value, span, what) in [
        (width, raw.width.span(), "width"),
        (depth, raw.depth.span(), "depth"),
    ] {
        if !(value > 0.0 && value <= MAX_PLAN_M) {
            report(
                span,
                format!("layout {what} must be above 0 and at most {MAX_PLAN_M} m"),
            );
        }
    }
    let mut places: Vec<Option<(Place, Range<usize>)>> = vec![None; zones.len()];
    for entry in &raw.zones {
        let e = entry.get_ref();
        let name = e.zone.get_ref();
        let Some(z) = zones.iter().position(|n| n == name) else {
            report(
                e.zone.span(),
                format!(
                    "unknown zone '{name}' in the layout (zones: {})",
                    zones.join(", ")
                ),
            );
            continue;
        };
        if places[z].is_some() {
            report(
                e.zone.span(),
                format!("zone '{name}' is placed twice in the layout"),
            );
            continue;
        }
        let polygon = match (&e.polygon, &e.seats) {
            (Some(p), None) => {
                let corners = p.get_ref();
                if corners.len() < 3 || corners.len() > MAX_CORNERS {
                    report(
                        p.span(),
                        format!("zone '{name}': a polygon has 3 to {MAX_CORNERS} corners"),
                    );
                    continue;
                }
                if simple(corners).is_err() {
                    report(
                        p.span(),
                        format!("zone '{name}': the polygon crosses itself"),
                    );
                    continue;
                }
                if area(corners) <= 0.0 {
                    report(
                        p.span(),
                        format!("zone '{name}' is empty: its polygon has no area"),
                    );
                    continue;
                }
                (corners.clone(), p.span())
            }
            (None, Some(s)) => {
                let seats = s.get_ref();
                if seats.rows == 0 || seats.per_row == 0 {
                    report(
                        s.span(),
                        format!("zone '{name}' is empty: its block has no seats"),
                    );
                    continue;
                }
                if seats.rows.saturating_mul(seats.per_row) > MAX_SEATS
                    || !(seats.pitch > 0.0 && seats.row_pitch > 0.0)
                {
                    report(
                        s.span(),
                        format!(
                            "zone '{name}': at most {MAX_SEATS} seats, and pitch and row_pitch above 0"
                        ),
                    );
                    continue;
                }
                let (x0, y0) = (seats.x, seats.y);
                let x1 = x0 + seats.per_row as f64 * seats.pitch;
                let y1 = y0 + seats.rows as f64 * seats.row_pitch;
                (vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]], s.span())
            }
            _ => {
                report(
                    entry.span(),
                    format!("zone '{name}': give either `polygon` or `seats`"),
                );
                continue;
            }
        };
        let (corners, span) = polygon;
        if corners
            .iter()
            .any(|&[x, y]| !(0.0..=width).contains(&x) || !(0.0..=depth).contains(&y))
        {
            report(
                span.clone(),
                format!("zone '{name}' reaches outside the plan ({width} × {depth} m)"),
            );
        }
        places[z] = Some((
            Place {
                zone: z,
                polygon: corners,
                seats: e.seats.as_ref().map(|s| *s.get_ref()),
            },
            span,
        ));
    }
    for (z, place) in places.iter().enumerate() {
        if place.is_none()
            && raw
                .zones
                .iter()
                .all(|e| e.get_ref().zone.get_ref() != zones[z])
        {
            report(
                whole.clone(),
                format!("zone '{}' has no place in the layout", zones[z]),
            );
        }
    }
    let placed: Vec<&(Place, Range<usize>)> = places.iter().flatten().collect();
    for (i, (a, _)) in placed.iter().enumerate() {
        for (b, span) in &placed[i + 1..] {
            if overlap(&a.polygon, &b.polygon) {
                report(
                    span.clone(),
                    format!(
                        "zones '{}' and '{}' overlap in the layout",
                        zones[a.zone], zones[b.zone]
                    ),
                );
            }
        }
    }
    if before.get() > 0 {
        return None;
    }
    Some(Layout {
        width,
        depth,
        zones: places.into_iter().flatten().map(|(p, _)| p).collect(),
    })
}

/// Twice the signed area's absolute value / 2: the area.
fn area(p: &[[f64; 2]]) -> f64 {
    let n = p.len();
    let twice: f64 = (0..n)
        .map(|i| {
            let (a, b) = (p[i], p[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum();
    twice.abs() / 2.0
}

fn edges(p: &[[f64; 2]]) -> impl Iterator<Item = ([f64; 2], [f64; 2])> + '_ {
    (0..p.len()).map(move |i| (p[i], p[(i + 1) % p.len()]))
}

fn cross(o: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// Whether segments ab and cd cross at one point inside both (touching and collinear runs do
/// not count: zones may share a border).
fn properly_cross(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> bool {
    let (d1, d2) = (cross(c, d, a), cross(c, d, b));
    let (d3, d4) = (cross(a, b, c), cross(a, b, d));
    d1 * d2 < 0.0 && d3 * d4 < 0.0
}

/// `Err` when two edges that are not neighbours cross.
fn simple(p: &[[f64; 2]]) -> Result<(), ()> {
    let n = p.len();
    for i in 0..n {
        for j in i + 2..n {
            if i == 0 && j == n - 1 {
                continue;
            }
            if properly_cross(p[i], p[(i + 1) % n], p[j], p[(j + 1) % n]) {
                return Err(());
            }
        }
    }
    Ok(())
}

/// Where segment ab meets segment cd, if they meet at one point.
fn meet(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> Option<[f64; 2]> {
    let r = [b[0] - a[0], b[1] - a[1]];
    let s = [d[0] - c[0], d[1] - c[1]];
    let den = r[0] * s[1] - r[1] * s[0];
    if den == 0.0 {
        return None;
    }
    let t = ((c[0] - a[0]) * s[1] - (c[1] - a[1]) * s[0]) / den;
    let u = ((c[0] - a[0]) * r[1] - (c[1] - a[1]) * r[0]) / den;
    ((0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u))
        .then(|| [a[0] + t * r[0], a[1] + t * r[1]])
}

/// The spans (y from, y to) of `p` on the vertical line at `x`.
fn spans_at(p: &[[f64; 2]], x: f64) -> Vec<(f64, f64)> {
    let mut ys: Vec<f64> = edges(p)
        .filter(|(a, b)| (a[0] > x) != (b[0] > x))
        .map(|(a, b)| a[1] + (x - a[0]) * (b[1] - a[1]) / (b[0] - a[0]))
        .collect();
    ys.sort_by(f64::total_cmp);
    ys.chunks_exact(2).map(|c| (c[0], c[1])).collect()
}

/// Whether two simple polygons share area (a shared border is no overlap). Exact up to
/// rounding: between two neighbouring x's of corners and edge crossings no edge starts, ends
/// or crosses another, so the polygons overlap in that slab exactly when they do on its
/// middle line.
pub fn overlap(a: &[[f64; 2]], b: &[[f64; 2]]) -> bool {
    let mut xs: Vec<f64> = a.iter().chain(b).map(|c| c[0]).collect();
    for (p, q) in edges(a) {
        xs.extend(edges(b).filter_map(|(r, s)| meet(p, q, r, s)).map(|m| m[0]));
    }
    xs.sort_by(f64::total_cmp);
    let eps = 1e-9;
    xs.windows(2).filter(|w| w[1] - w[0] > eps).any(|w| {
        let x = (w[0] + w[1]) / 2.0;
        let (sa, sb) = (spans_at(a, x), spans_at(b, x));
        sa.iter()
            .any(|&(a0, a1)| sb.iter().any(|&(b0, b1)| a1.min(b1) - a0.max(b0) > eps))
    })
}

/// Points strictly inside `p`: the midpoints of its spans on a few horizontal lines.
fn interior_points(p: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let (lo, hi) = p
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), c| (l.min(c[1]), h.max(c[1])));
    let mut out = Vec::new();
    for k in 0..16 {
        let y = lo + (k as f64 + 0.5) / 16.0 * (hi - lo);
        let mut xs: Vec<f64> = edges(p)
            .filter(|(a, b)| (a[1] > y) != (b[1] > y))
            .map(|(a, b)| a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]))
            .collect();
        xs.sort_by(f64::total_cmp);
        out.extend(xs.chunks_exact(2).map(|c| [(c[0] + c[1]) / 2.0, y]));
    }
    out
}

/// A point to sample a zone's colour at: inside its outline (on a seat, for a seat block).
pub fn sample_point(place: &Place) -> [f64; 2] {
    if let Some(s) = place.seats {
        return [s.x + s.pitch / 2.0, s.y + s.row_pitch / 2.0];
    }
    interior_points(&place.polygon)
        .get(8)
        .copied()
        .unwrap_or(place.polygon[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<[f64; 2]> {
        vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    }

    #[test]
    fn overlap_is_shared_area_not_a_shared_border() {
        let a = rect(0.0, 0.0, 10.0, 10.0);
        assert!(!overlap(&a, &rect(10.0, 0.0, 20.0, 10.0)), "side by side");
        assert!(
            !overlap(&a, &rect(10.0, 10.0, 20.0, 20.0)),
            "corner to corner"
        );
        assert!(!overlap(&a, &rect(0.0, 10.0, 5.0, 20.0)), "part of a side");
        assert!(overlap(&a, &a), "the same");
        assert!(overlap(&a, &rect(2.0, 2.0, 3.0, 3.0)), "inside");
        assert!(overlap(&rect(2.0, 2.0, 3.0, 3.0), &a), "around");
        assert!(overlap(&a, &rect(9.0, 9.0, 20.0, 20.0)), "corners");
        assert!(
            overlap(&a, &rect(0.0, 0.0, 5.0, 20.0)),
            "along a side and out"
        );
        assert!(overlap(&a, &rect(-5.0, 4.0, 15.0, 6.0)), "a bar across");
        assert!(overlap(&a, &rect(8.0, 0.0, 20.0, 10.0)), "sides in line");
        assert!(
            overlap(&rect(8.0, 0.0, 20.0, 10.0), &a),
            "sides in line, swapped"
        );
        let triangle = vec![[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]];
        assert!(!overlap(
            &triangle,
            &[[10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]
        ));
    }

    #[test]
    fn polygons_are_simple_with_area() {
        assert!(simple(&rect(0.0, 0.0, 1.0, 1.0)).is_ok());
        assert!(simple(&[[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]).is_err());
        assert_eq!(area(&rect(0.0, 0.0, 2.0, 3.0)), 6.0);
        assert_eq!(area(&[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]), 0.0);
    }
}
