//! Paper-style plots: violins of a metric over seeds (one violin per model/setting) and scatter
//! plots, rendered with `plotters` to PNG (bitmap backend, encoded with `image`) or SVG.
//!
//! Choices:
//! * Text uses the embedded DejaVu Sans registered with plotters' `ab_glyph` support, so no
//!   system font lookup (font-kit) is needed and PNGs look the same on every machine.
//! * Violins follow seaborn's defaults where they matter for reading a paper figure: a Gaussian
//!   KDE per group, mirrored, all violins on one density scale (the widest fills 80 % of its slot,
//!   so every violin has the same area and narrow = spread out), median dot + thick IQR bar,
//!   raw values as small points (with a few seeds a KDE alone would over-state what we know).
//! * Unlike seaborn (cut = 2 bandwidths) the density is clipped to the data range extended by one
//!   bandwidth, so tails do not suggest values far outside what was observed.
//! * Group labels are word-wrapped (at spaces, and after `-`, `_`, `/`, `,`) onto at most three
//!   lines, and the font shrinks (down to 7 px) until every label fits its slot; rotated text would
//!   be harder to read and plotters' ab_glyph path renders rotation only in 90° steps.
//! * Statistics (`kde`, `scott_bandwidth`, `quantile`) are written here (small, testable, no
//!   heavyweight stats dependency).

use std::path::{Path, PathBuf};
use std::sync::Once;

use image::RgbImage;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::text::text_width;

#[derive(Clone, Debug)]
pub struct Group {
    pub label: String,
    pub values: Vec<f64>,
}

#[derive(Clone, Debug)]
pub struct ViolinPlot {
    pub title: String,
    pub y_label: String,
    pub groups: Vec<Group>,
    /// The values' possible range (MIG: [0, 1]): the density outlines stop at its ends
    /// instead of spilling past them (None: the usual ±1 bandwidth past the data).
    pub range: Option<(f64, f64)>,
}

/// Where a drawn point landed on the picture (pixels from the top left), so a page can make
/// it a link (an HTML image map): point `index` of group or series `group`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PointPosition {
    pub group: usize,
    pub index: usize,
    pub x: i32,
    pub y: i32,
    /// Radius of the drawn dot, pixels.
    pub radius: i32,
}

#[derive(Clone, Debug)]
pub struct ScatterSeries {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

#[derive(Clone, Debug)]
pub struct ScatterPlot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<ScatterSeries>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("nothing to plot: {0}")]
    Empty(&'static str),
    #[error("no finite values to plot")]
    NonFinite,
    #[error("plot size {width}×{height} is too small (at least {MIN_SIDE}×{MIN_SIDE})")]
    Size { width: u32, height: u32 },
    #[error("drawing plot: {0}")]
    Draw(String),
    #[error("encoding plot: {0}")]
    Encode(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Smallest accepted plot side in pixels.
pub const MIN_SIDE: u32 = 64;

// ---------------------------------------------------------------------------------------------
// Statistics

/// The `q`-quantile (q in [0, 1], clamped) of ascending `sorted` values, interpolating linearly
/// between the two nearest ranks: position q·(n−1), as numpy's default (`method="linear"`).
/// NaN for an empty slice.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// Normal-reference ("Scott's rule") bandwidth for a Gaussian KDE: h = 1.06·σ·n^(−1/5), with σ the
/// sample standard deviation (n − 1 denominator); 1.06 ≈ (4/3)^(1/5) is the AMISE-optimal constant
/// for normal data. Note scipy's `gaussian_kde(bw_method="scott")` (and so seaborn) uses the factor
/// n^(−1/5) without 1.06, i.e. ~6 % narrower. Non-finite values are ignored; returns 0 for fewer
/// than two values or no spread.
pub fn scott_bandwidth(values: &[f64]) -> f64 {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let n = v.len();
    if n < 2 {
        return 0.0;
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    let h = 1.06 * var.sqrt() * (n as f64).powf(-0.2);
    if h.is_finite() { h } else { 0.0 }
}

/// Gaussian kernel density estimate of `values` with `bandwidth` (standard deviation of the
/// kernel) evaluated at each point of `grid`: f(g) = 1/(n·h) Σᵢ φ((g − xᵢ)/h). Non-finite values
/// are ignored; all zeros when there are no values or the bandwidth is not positive.
pub fn kde(values: &[f64], bandwidth: f64, grid: &[f64]) -> Vec<f64> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() || !(bandwidth > 0.0 && bandwidth.is_finite()) {
        return vec![0.0; grid.len()];
    }
    let norm = 1.0 / (v.len() as f64 * bandwidth * (2.0 * std::f64::consts::PI).sqrt());
    grid.iter()
        .map(|&g| {
            norm * v
                .iter()
                .map(|&x| {
                    let z = (g - x) / bandwidth;
                    (-0.5 * z * z).exp()
                })
                .sum::<f64>()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Files

/// Writes `bytes` (a rendered `.png`/`.svg`) to `path` atomically: temporary file in the same
/// directory, then rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    disentangle_data::atomic::write_atomic(path, bytes).map_err(|source| PlotError::Io { path: path.to_path_buf(), source })
}

// ---------------------------------------------------------------------------------------------
// Rendering plumbing

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font is known to parse; a failure would only mean plotters reports
        // FontUnavailable on the first text, which surfaces as PlotError::Draw.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, crate::FONT_BYTES);
    });
}

pub(crate) fn draw_err<E: std::fmt::Display>(e: E) -> PlotError {
    PlotError::Draw(e.to_string())
}

fn check_size(width: u32, height: u32) -> Result<(), PlotError> {
    if width < MIN_SIDE || height < MIN_SIDE || width > 16384 || height > 16384 {
        return Err(PlotError::Size { width, height });
    }
    Ok(())
}

pub(crate) fn render_png(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), PlotError>,
) -> Result<Vec<u8>, PlotError> {
    check_size(width, height)?;
    register_font();
    let mut buf = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    let img = RgbImage::from_raw(width, height, buf).ok_or_else(|| PlotError::Encode("buffer size".into()))?;
    crate::grid::encode_png(&img).map_err(|e| PlotError::Encode(e.to_string()))
}

pub(crate) fn render_svg(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), PlotError>,
) -> Result<String, PlotError> {
    check_size(width, height)?;
    register_font();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    Ok(out)
}

/// The axes of an x–y chart (scatter, lines over training steps).
pub(crate) struct XyAxes<'a> {
    pub x: (f64, f64),
    pub y: (f64, f64),
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// Height of the x label area, pixels.
    pub x_area: u32,
    pub margin: u32,
    /// Base font size.
    pub fs: f64,
}

/// A cartesian chart on `area` with the house mesh: 8 ticks a side with short labels, axis
/// descriptions, faint major grid lines only.
pub(crate) fn xy_chart<'a, DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    a: XyAxes<'_>,
) -> Result<ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>, PlotError> {
    let ((x0, x1), (y0, y1), fs) = (a.x, a.y, a.fs);
    let mut chart = ChartBuilder::on(area)
        .margin(a.margin)
        .x_label_area_size(a.x_area)
        .y_label_area_size(y_area(y0, y1, fs, a.y_label))
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(draw_err)?;
    let (fx, fy) = (tick_formatter(x0, x1), tick_formatter(y0, y1));
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .x_desc(a.x_label)
        .y_desc(a.y_label)
        .label_style(("sans-serif", fs))
        .axis_desc_style(("sans-serif", fs * 1.05))
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(draw_err)?;
    Ok(chart)
}

/// The top of a y range raised so that a legend of `labelled` entries (in a chart `height`
/// pixels high, with `title`, an x label area of `x_area` and `margin`) sits above the data.
#[allow(clippy::too_many_arguments)]
pub(crate) fn legend_headroom(y0: f64, y1: f64, labelled: usize, title: &str, height: u32, x_area: u32, margin: u32, fs: f64) -> f64 {
    if labelled == 0 {
        return y1;
    }
    let title_h = if title.trim().is_empty() { 0.0 } else { fs * 2.2 };
    let plot_h = (height as f64 - title_h - x_area as f64 - 2.0 * margin as f64).max(1.0);
    let legend_h = labelled as f64 * fs * 1.6 + fs * 1.5;
    let frac = (legend_h / plot_h).min(0.6);
    y1 + (y1 - y0) * frac / (1.0 - frac)
}

/// The legend of the labelled series, in the house style.
pub(crate) fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>,
    position: SeriesLabelPosition,
    fs: f64,
) -> Result<(), PlotError> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font(("sans-serif", fs))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(draw_err)
}

/// Muted, colour-blind-friendly palette (seaborn "deep"-like hues).
const PALETTE: [RGBColor; 10] = [
    RGBColor(76, 114, 176),
    RGBColor(221, 132, 82),
    RGBColor(85, 168, 104),
    RGBColor(196, 78, 82),
    RGBColor(129, 114, 179),
    RGBColor(147, 120, 96),
    RGBColor(218, 139, 195),
    RGBColor(140, 140, 140),
    RGBColor(204, 185, 116),
    RGBColor(100, 181, 205),
];

pub(crate) fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Base font size for a canvas.
pub(crate) fn base_font(width: u32, height: u32) -> f64 {
    (width.min(height) as f64 / 34.0).clamp(11.0, 18.0)
}

/// Number of decimals that tick labels over `span` need.
pub(crate) fn tick_formatter(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let span = (hi - lo).abs().max(f64::MIN_POSITIVE);
    let mag = lo.abs().max(hi.abs());
    let scientific = mag >= 1e6 || (mag > 0.0 && mag < 1e-3) || span < 1e-5 * mag.max(1e-300) || span < 1e-6;
    let decimals = ((-(span / 10.0).log10()).ceil() as i64 + 1).clamp(0, 8) as usize;
    move |v: &f64| {
        if scientific {
            return format!("{v:.2e}");
        }
        let mut s = format!("{v:.decimals$}");
        if s.contains('.') {
            while s.ends_with('0') {
                s.pop();
            }
            if s.ends_with('.') {
                s.pop();
            }
        }
        if s == "-0" { "0".to_string() } else { s }
    }
}

/// `lo..hi` widened by `frac` of its span on both sides; degenerate ranges get a sensible width.
pub(crate) fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    let span = hi - lo;
    if span > 0.0 && span.is_finite() {
        (lo - frac * span, hi + frac * span)
    } else {
        let pad = (lo.abs() * 0.1).max(1e-3);
        (lo - pad, hi + pad)
    }
}

/// Width of the y label area: the widest tick label plus the rotated axis description.
pub(crate) fn y_area(lo: f64, hi: f64, fs: f64, desc: &str) -> u32 {
    let fmt = tick_formatter(lo, hi);
    let ticks = (0..=10).map(|k| fmt(&(lo + (hi - lo) * k as f64 / 10.0)));
    let widest = ticks.map(|t| text_width(&t, fs as f32)).max().unwrap_or(0);
    let desc_w = if desc.trim().is_empty() { 0.0 } else { fs * 1.8 };
    widest + 14 + desc_w as u32
}

/// Breaks `label` into lines no wider than `max_w` at `px` (greedy; breaks at spaces and after
/// `-`, `_`, `/`, `,`). A single unbreakable piece wider than `max_w` gets a line of its own.
fn wrap(label: &str, max_w: f64, px: f32) -> Vec<String> {
    // Pieces: (text, preceded by a space).
    let mut pieces: Vec<(String, bool)> = Vec::new();
    for (wi, word) in label.split_whitespace().enumerate() {
        let mut cur = String::new();
        let mut first = true;
        for c in word.chars() {
            cur.push(c);
            if matches!(c, '-' | '_' | '/' | ',') {
                pieces.push((std::mem::take(&mut cur), first && wi > 0));
                first = false;
            }
        }
        if !cur.is_empty() {
            pieces.push((cur, first && wi > 0));
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for (piece, space) in pieces {
        let candidate = if line.is_empty() {
            piece.clone()
        } else if space {
            format!("{line} {piece}")
        } else {
            format!("{line}{piece}")
        };
        if !line.is_empty() && text_width(&candidate, px) as f64 > max_w {
            lines.push(std::mem::replace(&mut line, piece));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Largest font (≤ `fs`, ≥ 7 px) at which every label wraps into ≤ 3 lines within `max_w`.
fn fit_labels(labels: &[&str], max_w: f64, fs: f64) -> (f64, Vec<Vec<String>>) {
    let mut size = fs;
    loop {
        let wrapped: Vec<Vec<String>> = labels.iter().map(|l| wrap(l, max_w, size as f32)).collect();
        let fits = wrapped
            .iter()
            .all(|ls| ls.len() <= 3 && ls.iter().all(|l| text_width(l, size as f32) as f64 <= max_w));
        if fits || size <= 7.0 {
            return (size, wrapped);
        }
        size -= 0.5;
    }
}

mod scatter;
mod violin;

#[cfg(test)]
mod tests;
