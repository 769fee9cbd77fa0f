//! A metric over training: per series (one configuration), a line through the median over
//! seeds at each step and a shaded band between the quartiles, with a legend. Quartiles follow
//! [`quantile`] (numpy's linear rule), so the band of five seeds spans the 2nd to 4th value.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plots::{PlotError, XyAxes, base_font, color, draw_err, draw_legend, legend_headroom, padded, quantile, render_png, render_svg, xy_chart};

/// One configuration: at each x (training step) the values of its seeds.
#[derive(Clone, Debug)]
pub struct BandSeries {
    pub label: String,
    pub points: Vec<(f64, Vec<f64>)>,
}

#[derive(Clone, Debug)]
pub struct BandPlot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<BandSeries>,
    /// Values the y axis always shows (e.g. MIG's [0, 1] bounds when data reach them); the
    /// axis never extends past these when set.
    pub y_bounds: Option<(f64, f64)>,
}

/// (x, q25, median, q75) of each point with a finite value, by x.
pub fn band_points(s: &BandSeries) -> Vec<(f64, f64, f64, f64)> {
    let mut out: Vec<(f64, f64, f64, f64)> = s
        .points
        .iter()
        .filter(|(x, _)| x.is_finite())
        .filter_map(|(x, values)| {
            let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
            if v.is_empty() {
                return None;
            }
            v.sort_by(f64::total_cmp);
            Some((*x, quantile(&v, 0.25), quantile(&v, 0.5), quantile(&v, 0.75)))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

impl BandPlot {
    pub fn to_png(&self, width: u32, height: u32) -> Result<Vec<u8>, PlotError> {
        let (bands, ranges) = self.prepare()?;
        render_png(width, height, |root| self.draw(root, &bands, ranges, width, height))
    }

    pub fn to_svg(&self, width: u32, height: u32) -> Result<String, PlotError> {
        let (bands, ranges) = self.prepare()?;
        render_svg(width, height, |root| self.draw(root, &bands, ranges, width, height))
    }

    #[allow(clippy::type_complexity)]
    fn prepare(&self) -> Result<(Vec<Vec<(f64, f64, f64, f64)>>, ((f64, f64), (f64, f64))), PlotError> {
        if self.series.iter().all(|s| s.points.is_empty()) {
            return Err(PlotError::Empty("band plot without points"));
        }
        let bands: Vec<_> = self.series.iter().map(band_points).collect();
        let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for &(x, lo, _, hi) in bands.iter().flatten() {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(lo), y1.max(hi));
        }
        if x0 > x1 {
            return Err(PlotError::NonFinite);
        }
        let (mut ya, mut yb) = padded(y0, y1, 0.05);
        if let Some((lo, hi)) = self.y_bounds {
            (ya, yb) = (ya.max(lo), yb.min(hi));
            if ya >= yb {
                (ya, yb) = (lo, hi);
            }
        }
        Ok((bands, (padded(x0, x1, 0.02), (ya, yb))))
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        bands: &[Vec<(f64, f64, f64, f64)>],
        ((x0, x1), (y0, y1)): ((f64, f64), (f64, f64)),
        width: u32,
        height: u32,
    ) -> Result<(), PlotError> {
        let fs = base_font(width, height);
        root.fill(&WHITE).map_err(draw_err)?;
        let area = if self.title.trim().is_empty() { root.clone() } else { root.titled(&self.title, ("sans-serif", fs * 1.4)).map_err(draw_err)? };
        let margin = (fs * 1.2) as u32;
        // Headroom above the data for the legend (upper left), so it never hides a line.
        let labelled = self.series.iter().filter(|s| !s.label.is_empty()).count();
        let x_area = (fs * 3.6) as u32;
        let y1 = legend_headroom(y0, y1, labelled, &self.title, height, x_area, margin, fs);
        let axes = XyAxes { x: (x0, x1), y: (y0, y1), x_label: &self.x_label, y_label: &self.y_label, x_area, margin, fs };
        let mut chart = xy_chart(&area, axes)?;
        let r = (fs * 0.25).max(2.0) as i32;
        for (i, (s, band)) in self.series.iter().zip(bands).enumerate() {
            if band.is_empty() {
                continue;
            }
            let c = color(i);
            if band.len() > 1 {
                let mut poly: Vec<(f64, f64)> = band.iter().map(|&(x, lo, _, _)| (x, lo)).collect();
                poly.extend(band.iter().rev().map(|&(x, _, _, hi)| (x, hi)));
                chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.18).filled()))).map_err(draw_err)?;
            }
            let line: Vec<(f64, f64)> = band.iter().map(|&(x, _, m, _)| (x, m)).collect();
            let drawn = chart.draw_series(std::iter::once(PathElement::new(line.clone(), c.stroke_width(2)))).map_err(draw_err)?;
            if !s.label.is_empty() {
                drawn.label(s.label.as_str()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(3)));
            }
            chart.draw_series(line.into_iter().map(|p| Circle::new(p, r, c.filled()))).map_err(draw_err)?;
        }
        if labelled > 0 {
            draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, fs)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plot(series: Vec<BandSeries>) -> BandPlot {
        BandPlot { title: "MIG over training".into(), x_label: "step".into(), y_label: "MIG".into(), series, y_bounds: Some((0.0, 1.0)) }
    }

    #[test]
    fn bands_are_the_quartiles_of_each_step() {
        let s = BandSeries { label: "a".into(), points: vec![(2000.0, vec![0.5, 0.1, 0.3, 0.2, 0.4]), (0.0, vec![f64::NAN, 1.0]), (1000.0, vec![f64::NAN])] };
        let b = band_points(&s);
        assert_eq!(b.len(), 2, "a step without a finite value has no point");
        assert_eq!(b[0], (0.0, 1.0, 1.0, 1.0));
        let (x, lo, med, hi) = b[1];
        assert_eq!(x, 2000.0);
        assert!((lo - 0.2).abs() < 1e-15 && (med - 0.3).abs() < 1e-15 && (hi - 0.4).abs() < 1e-15);
    }

    #[test]
    fn renders_png_and_svg_and_refuses_nothing_to_draw() {
        let p = plot(vec![
            BandSeries { label: "vae · conv".into(), points: vec![(0.0, vec![0.01, 0.02]), (2000.0, vec![0.05, 0.08, 0.1])] },
            BandSeries { label: "vae · split".into(), points: vec![(0.0, vec![0.02]), (2000.0, vec![0.1, 0.12])] },
        ]);
        let png = p.to_png(640, 400).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        // Some pixels carry the first series' colour (the median line).
        let c = color(0);
        assert!(img.pixels().any(|px| px.0 == [c.0, c.1, c.2]));
        let svg = p.to_svg(640, 400).unwrap();
        assert!(svg.contains("<svg") && svg.contains("vae · split"));
        assert!(matches!(plot(vec![]).to_png(640, 400), Err(PlotError::Empty(_))));
        let nan = plot(vec![BandSeries { label: String::new(), points: vec![(1.0, vec![f64::NAN])] }]);
        assert!(matches!(nan.to_png(640, 400), Err(PlotError::NonFinite)));
    }
}
