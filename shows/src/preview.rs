//! Preview images: one cue drawn as a PNG, time on x, one horizontal band per zone, with a time
//! ruler, segment edges, the end of one pass and loop points marked.

use std::io::Write;

use crate::glyphs;
use crate::model::{CompiledShow, CueEnd, Rgb};

/// Options of a preview.
#[derive(Clone, Debug)]
pub struct PreviewOptions {
    /// Image width in pixels (the time axis).
    pub width: u32,
    /// Height of one zone band in pixels.
    pub band: u32,
    /// Time span drawn, ms; `None` = two passes for a loop, else one pass plus a short tail.
    pub span_ms: Option<u64>,
}

impl Default for PreviewOptions {
    fn default() -> Self {
        PreviewOptions {
            width: 1200,
            band: 40,
            span_ms: None,
        }
    }
}

/// An RGB raster.
#[derive(Clone, Debug)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row-major RGB bytes.
    pub pixels: Vec<u8>,
}

impl Image {
    fn new(width: u32, height: u32, bg: Rgb) -> Self {
        let mut pixels = Vec::with_capacity((width * height * 3) as usize);
        for _ in 0..width * height {
            pixels.extend_from_slice(&[bg.r, bg.g, bg.b]);
        }
        Image {
            width,
            height,
            pixels,
        }
    }

    fn set(&mut self, x: u32, y: u32, c: Rgb) {
        if x < self.width && y < self.height {
            let i = ((y * self.width + x) * 3) as usize;
            self.pixels[i..i + 3].copy_from_slice(&[c.r, c.g, c.b]);
        }
    }

    /// Colour of a pixel (black outside).
    pub fn get(&self, x: u32, y: u32) -> Rgb {
        if x >= self.width || y >= self.height {
            return Rgb::BLACK;
        }
        let i = ((y * self.width + x) * 3) as usize;
        Rgb::new(self.pixels[i], self.pixels[i + 1], self.pixels[i + 2])
    }

    fn vline(&mut self, x: u32, y0: u32, y1: u32, c: Rgb, dashed: bool) {
        for y in y0..y1 {
            if !dashed || (y / 3) % 2 == 0 {
                self.set(x, y, c);
            }
        }
    }

    /// Encodes as an 8-bit RGB PNG.
    pub fn write_png<W: Write>(&self, out: W) -> Result<(), png::EncodingError> {
        let mut enc = png::Encoder::new(out, self.width, self.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&self.pixels)?;
        writer.finish()
    }
}

const BG: Rgb = Rgb::new(24, 24, 28);
const TEXT: Rgb = Rgb::new(200, 200, 210);
const RULER: Rgb = Rgb::new(150, 150, 160);
const EDGE: Rgb = Rgb::new(110, 110, 120);
const PASS_END: Rgb = Rgb::new(255, 60, 200);
const HEADER_H: u32 = 14;
const RULER_H: u32 = 16;
const GAP: u32 = 4;
const PAD: u32 = 6;

/// Height of a preview with `zones` bands of `band` pixels.
pub fn expected_height(zones: u32, band: u32) -> u32 {
    HEADER_H + RULER_H + GAP + zones * (band + GAP)
}

/// Time span drawn for a cue with the given options.
pub fn span_ms(show: &CompiledShow, cue: usize, opts: &PreviewOptions) -> u64 {
    let dur = show.cue_duration_ms(cue).max(1);
    opts.span_ms.unwrap_or(match show.cue_end(cue) {
        CueEnd::Loop => 2 * dur,
        _ => dur + (dur / 8).max(1000),
    })
}

fn draw_text(img: &mut Image, x: u32, y: u32, text: &str, c: Rgb) {
    for (i, ch) in text.chars().enumerate() {
        let rows = glyphs::glyph(ch);
        for (dy, row) in rows.iter().enumerate() {
            for dx in 0..5 {
                if row & (0x10 >> dx) != 0 {
                    img.set(x + i as u32 * glyphs::ADVANCE + dx, y + dy as u32, c);
                }
            }
        }
    }
}

/// "12.5s" style label for a time in ms.
fn seconds(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        let frac = format!("{:03}", ms % 1000);
        format!("{}.{}s", ms / 1000, frac.trim_end_matches('0'))
    }
}

/// Draws one cue: a header (cue, end rule, length), a time ruler, and one band per zone labelled
/// with its name. Each column shows the average colour over its time slice; dashed lines mark
/// segment edges, magenta lines the end of a pass (the loop point of a loop).
pub fn render(show: &CompiledShow, cue: usize, opts: &PreviewOptions) -> Image {
    let zones = show.zones.len() as u32;
    let label_w = show
        .zones
        .iter()
        .map(|z| glyphs::text_width(z))
        .max()
        .unwrap_or(0)
        .min(32 * glyphs::ADVANCE)
        + 2 * PAD;
    let width = opts.width.clamp(label_w + 16, 20_000);
    let plot_w = width - label_w;
    let band = opts.band.clamp(glyphs::HEIGHT + 2, 400);
    let height = expected_height(zones, band);
    let mut img = Image::new(width, height, BG);
    let span = span_ms(show, cue, opts).max(1);
    let dur = show.cue_duration_ms(cue).max(1);
    let bands_y = HEADER_H + RULER_H + GAP;

    // Header.
    let end = match show.cue_end(cue) {
        CueEnd::Hold => "hold",
        CueEnd::Loop => "loop",
        CueEnd::End => "end",
    };
    let name = show.cues.get(cue).map_or("?", |c| c.name.as_str());
    let header = format!("{} - cue '{name}' ({end}, {})", show.title(), seconds(dur));
    draw_text(
        &mut img,
        PAD,
        (HEADER_H - glyphs::HEIGHT) / 2,
        &header,
        TEXT,
    );

    // Bands.
    let col_start = |x: u32| u64::from(x) * span / u64::from(plot_w);
    for x in 0..plot_w {
        let (t0, t1) = (col_start(x), col_start(x + 1).max(col_start(x) + 1));
        let step = ((t1 - t0) / 64).max(1);
        for z in 0..zones {
            let (mut r, mut g, mut b, mut n) = (0u64, 0u64, 0u64, 0u64);
            let mut t = t0;
            while t < t1 {
                let c = crate::eval::colour_at(show, z as usize, cue, t);
                (r, g, b, n) = (
                    r + u64::from(c.r),
                    g + u64::from(c.g),
                    b + u64::from(c.b),
                    n + 1,
                );
                t += step;
            }
            let c = Rgb::new((r / n) as u8, (g / n) as u8, (b / n) as u8);
            let y0 = bands_y + z * (band + GAP);
            for y in y0..y0 + band {
                img.set(label_w + x, y, c);
            }
        }
    }
    for (z, zone) in show.zones.iter().enumerate() {
        let y = bands_y + z as u32 * (band + GAP) + (band - glyphs::HEIGHT) / 2;
        draw_text(&mut img, PAD, y, zone, TEXT);
    }

    // Ruler: minor ticks, labelled major ticks at least ~70 px apart.
    let x_of = |t: u64| {
        label_w + (t.saturating_mul(u64::from(plot_w)) / span).min(u64::from(plot_w) - 1) as u32
    };
    let px_per_s = plot_w as f64 * 1000.0 / span as f64;
    let steps: [u64; 13] = [
        100, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 300_000, 600_000,
        3_600_000,
    ];
    let major = steps
        .iter()
        .copied()
        .find(|&s| px_per_s * s as f64 / 1000.0 >= 70.0)
        .unwrap_or(3_600_000);
    let minor = steps
        .iter()
        .copied()
        .find(|&s| px_per_s * s as f64 / 1000.0 >= 8.0 && major.is_multiple_of(s))
        .unwrap_or(major);
    let ruler_bottom = HEADER_H + RULER_H;
    let mut t = 0;
    while t <= span {
        let x = x_of(t);
        if t.is_multiple_of(major) {
            img.vline(x, ruler_bottom - 6, ruler_bottom, RULER, false);
            draw_text(&mut img, x + 2, HEADER_H, &seconds(t), RULER);
        } else {
            img.vline(x, ruler_bottom - 3, ruler_bottom, RULER, false);
        }
        t += minor;
    }

    // Segment edges and pass ends.
    if let Some(c) = show.cues.get(cue) {
        let mut pass = 0;
        while pass * dur < span {
            for seg in c.segs.iter().skip(1) {
                img.vline(
                    x_of(pass * dur + seg.start_ms()),
                    bands_y,
                    height,
                    EDGE,
                    true,
                );
            }
            pass += 1;
            if show.cue_end(cue) != CueEnd::Loop {
                break;
            }
        }
        let mut end_t = dur;
        while end_t < span {
            let x = x_of(end_t);
            img.vline(x, 0, height, PASS_END, false);
            // Label in the header row unless the title is there, else in the ruler.
            let y = if x > PAD + glyphs::text_width(&header) + PAD {
                (HEADER_H - glyphs::HEIGHT) / 2
            } else {
                HEADER_H + RULER_H - glyphs::HEIGHT - 1
            };
            if x + 2 + glyphs::text_width(end) < width {
                draw_text(&mut img, x + 3, y, end, PASS_END);
            }
            if show.cue_end(cue) != CueEnd::Loop {
                break;
            }
            end_t += dur;
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_show_the_evaluated_colours_and_marks() {
        let show = crate::compile_str(
            "title = \"p\"\nzones = [\"left\", \"right\"]\n[[cue]]\nname = \"c\"\nend = \"loop\"\n\
             [[cue.segment]]\nkind = \"solid\"\ncolour = \"#ff0000\"\ndur = 1000\n\
             [[cue.segment]]\nkind = \"solid\"\ncolour = \"#0000ff\"\ndur = 1000\n",
            "p.toml",
        )
        .unwrap();
        let img = render(&show, 0, &PreviewOptions::default());
        assert_eq!(img.width, 1200);
        assert_eq!(img.height, expected_height(2, 40));
        let label_w = glyphs::text_width("right") + 2 * PAD;
        let plot_w = img.width - label_w;
        // Two passes over 4000 ms: first quarter red, second blue, loop mark in the middle.
        let band_y = HEADER_H + RULER_H + GAP + 20;
        assert_eq!(img.get(label_w + plot_w / 8, band_y), Rgb::new(255, 0, 0));
        assert_eq!(
            img.get(label_w + plot_w * 3 / 8, band_y),
            Rgb::new(0, 0, 255)
        );
        assert_eq!(img.get(label_w + plot_w / 2, band_y), PASS_END);
        assert_eq!(img.get(label_w + plot_w / 2, 1), PASS_END);
        // Zone labels are drawn in the left margin.
        let label_band = HEADER_H + RULER_H + GAP;
        let label_pixels = (0..label_w)
            .flat_map(|x| (label_band..label_band + 40).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get(x, y) == TEXT)
            .count();
        assert!(label_pixels > 20);
        let mut png = Vec::new();
        img.write_png(&mut png).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }

    #[test]
    fn second_labels_are_short() {
        assert_eq!(seconds(0), "0s");
        assert_eq!(seconds(34_000), "34s");
        assert_eq!(seconds(1_500), "1.5s");
        assert_eq!(seconds(10_250), "10.25s");
    }
}
