//! Violins of a metric over seeds, one per group (see the parent module for the choices).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::*;

/// Per-group geometry computed before drawing.
pub(super) struct Violin {
    pub(super) sorted: Vec<f64>,
    /// Index in the group's `values` of each sorted value.
    pub(super) order: Vec<usize>,
    /// (y, density) outline; empty for a degenerate group (drawn as a bar).
    pub(super) outline: Vec<(f64, f64)>,
}

pub(super) fn prepare_violins(groups: &[Group], range: Option<(f64, f64)>) -> Vec<Violin> {
    const GRID: usize = 128;
    groups
        .iter()
        .map(|g| {
            let mut order: Vec<usize> = (0..g.values.len()).filter(|&i| g.values[i].is_finite()).collect();
            order.sort_by(|&a, &b| g.values[a].total_cmp(&g.values[b]));
            let sorted: Vec<f64> = order.iter().map(|&i| g.values[i]).collect();
            let h = scott_bandwidth(&sorted);
            let outline = if sorted.len() >= 2 && h > 0.0 {
                let (mut lo, mut hi) = (sorted[0] - h, sorted[sorted.len() - 1] + h);
                if let Some((min, max)) = range {
                    (lo, hi) = (lo.max(min), hi.min(max));
                }
                let grid: Vec<f64> = (0..GRID).map(|k| lo + (hi - lo) * k as f64 / (GRID - 1) as f64).collect();
                let d = kde(&sorted, h, &grid);
                grid.into_iter().zip(d).collect()
            } else {
                Vec::new()
            };
            Violin { sorted, order, outline }
        })
        .collect()
}

impl ViolinPlot {
    pub fn to_png(&self, width: u32, height: u32) -> Result<Vec<u8>, PlotError> {
        Ok(self.to_png_with_points(width, height)?.0)
    }

    /// The PNG and where each value's dot is on it.
    pub fn to_png_with_points(&self, width: u32, height: u32) -> Result<(Vec<u8>, Vec<PointPosition>), PlotError> {
        let prepared = self.prepare()?;
        let mut points = Vec::new();
        let png = render_png(width, height, |root| self.draw(root, &prepared, width, height, &mut points))?;
        Ok((png, points))
    }

    pub fn to_svg(&self, width: u32, height: u32) -> Result<String, PlotError> {
        let prepared = self.prepare()?;
        render_svg(width, height, |root| self.draw(root, &prepared, width, height, &mut Vec::new()))
    }

    fn prepare(&self) -> Result<Vec<Violin>, PlotError> {
        if self.groups.is_empty() {
            return Err(PlotError::Empty("violin plot without groups"));
        }
        let v = prepare_violins(&self.groups, self.range);
        if v.iter().all(|v| v.sorted.is_empty()) {
            return Err(if self.groups.iter().all(|g| g.values.is_empty()) {
                PlotError::Empty("violin plot without values")
            } else {
                PlotError::NonFinite
            });
        }
        Ok(v)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        violins: &[Violin],
        width: u32,
        height: u32,
        points: &mut Vec<PointPosition>,
    ) -> Result<(), PlotError> {
        let n = violins.len();
        let fs = base_font(width, height);
        // Y range: data plus the violins' tails, then a 5 % margin.
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in violins {
            for &y in v.sorted.iter().chain(v.outline.iter().map(|(y, _)| y)) {
                lo = lo.min(y);
                hi = hi.max(y);
            }
        }
        let (mut y0, mut y1) = padded(lo, hi, 0.05);
        if let Some((min, max)) = self.range {
            // The axis may show a little past the range, never the outline.
            let pad = 0.05 * (hi - lo).max(f64::MIN_POSITIVE);
            (y0, y1) = (y0.max(min - pad), y1.min(max + pad));
        }

        root.fill(&WHITE).map_err(draw_err)?;
        let area = if self.title.trim().is_empty() {
            root.clone()
        } else {
            root.titled(&self.title, ("sans-serif", fs * 1.4)).map_err(draw_err)?
        };
        let margin = (fs * 1.2) as u32;
        let y_area = y_area(y0, y1, fs, &self.y_label);
        let plot_w = (width as f64 - 2.0 * margin as f64 - y_area as f64).max(10.0);
        let slot = plot_w / n as f64;
        let labels: Vec<&str> = self.groups.iter().map(|g| g.label.as_str()).collect();
        let (label_fs, wrapped) = fit_labels(&labels, slot * 0.92, fs);
        let line_h = label_fs * 1.2;
        let max_lines = wrapped.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let x_area = (max_lines as f64 * line_h + fs * 0.8) as u32;

        let mut chart = ChartBuilder::on(&area)
            .margin(margin)
            .x_label_area_size(x_area)
            .y_label_area_size(y_area)
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), y0..y1)
            .map_err(draw_err)?;
        let fmt = tick_formatter(y0, y1);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(8)
            .y_label_formatter(&fmt)
            .y_desc(self.y_label.as_str())
            .label_style(("sans-serif", fs))
            .axis_desc_style(("sans-serif", fs * 1.05))
            .bold_line_style(BLACK.mix(0.08))
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(draw_err)?;

        // Densities share one scale: the highest peak gets a half-width of 0.4 slot.
        let peak = violins
            .iter()
            .flat_map(|v| v.outline.iter().map(|&(_, d)| d))
            .fold(0.0f64, f64::max);
        let scale = if peak > 0.0 { 0.4 / peak } else { 0.0 };
        let dot = (fs * 0.3).max(2.0) as i32;
        let iqr_w = (fs * 0.35).max(3.0) as u32;

        for (i, v) in violins.iter().enumerate() {
            if v.sorted.is_empty() {
                continue;
            }
            let x = i as f64;
            let c = color(i);
            if v.outline.is_empty() {
                // n = 1 or all values equal: a thin bar at the value.
                let y = v.sorted[0];
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x - 0.3, y), (x + 0.3, y)],
                        c.stroke_width(3),
                    )))
                    .map_err(draw_err)?;
            } else {
                let mut poly: Vec<(f64, f64)> = v.outline.iter().map(|&(y, d)| (x + d * scale, y)).collect();
                poly.extend(v.outline.iter().rev().map(|&(y, d)| (x - d * scale, y)));
                chart
                    .draw_series(std::iter::once(Polygon::new(poly.clone(), c.mix(0.6).filled())))
                    .map_err(draw_err)?;
                poly.push(poly[0]);
                chart
                    .draw_series(std::iter::once(PathElement::new(poly, c.mix(0.9).stroke_width(1))))
                    .map_err(draw_err)?;
            }
            // Raw values, spread deterministically (golden-ratio sequence) across ±0.07 slot.
            let jitter = |k: usize| ((k as f64 * 0.618_033_988_7).fract() - 0.5) * 0.14;
            chart
                .draw_series(
                    v.sorted
                        .iter()
                        .enumerate()
                        .map(|(k, &y)| Circle::new((x + jitter(k), y), dot / 2 + 1, BLACK.mix(0.45).filled())),
                )
                .map_err(draw_err)?;
            for (k, &y) in v.sorted.iter().enumerate() {
                let (px, py) = chart.backend_coord(&(x + jitter(k), y));
                points.push(PointPosition { group: i, index: v.order[k], x: px, y: py, radius: dot / 2 + 1 });
            }
            let (q1, med, q3) = (quantile(&v.sorted, 0.25), quantile(&v.sorted, 0.5), quantile(&v.sorted, 0.75));
            if q3 > q1 {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x, q1), (x, q3)],
                        BLACK.mix(0.85).stroke_width(iqr_w),
                    )))
                    .map_err(draw_err)?;
            }
            chart
                .draw_series([
                    Circle::new((x, med), dot + 1, BLACK.filled()),
                    Circle::new((x, med), dot, WHITE.filled()),
                ])
                .map_err(draw_err)?;
        }

        // Group labels under their slots, drawn on the root so they may sit outside the plot.
        let font = TextStyle::from(("sans-serif", label_fs).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top));
        for (i, lines) in wrapped.iter().enumerate() {
            let (cx, axis_y) = chart.backend_coord(&(i as f64, y0));
            for (k, line) in lines.iter().enumerate() {
                let y = axis_y + (fs * 0.5) as i32 + (k as f64 * line_h) as i32;
                root.draw(&Text::new(line.clone(), (cx, y), font.clone())).map_err(draw_err)?;
            }
        }
        Ok(())
    }
}
