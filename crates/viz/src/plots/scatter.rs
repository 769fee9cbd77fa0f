//! Scatter plots with labelled series.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::*;

impl ScatterPlot {
    pub fn to_png(&self, width: u32, height: u32) -> Result<Vec<u8>, PlotError> {
        Ok(self.to_png_with_points(width, height)?.0)
    }

    /// The PNG and where each point is on it (`group` = series).
    pub fn to_png_with_points(&self, width: u32, height: u32) -> Result<(Vec<u8>, Vec<PointPosition>), PlotError> {
        let ranges = self.ranges()?;
        let mut points = Vec::new();
        let png = render_png(width, height, |root| self.draw(root, ranges, width, height, &mut points))?;
        Ok((png, points))
    }

    pub fn to_svg(&self, width: u32, height: u32) -> Result<String, PlotError> {
        let ranges = self.ranges()?;
        render_svg(width, height, |root| self.draw(root, ranges, width, height, &mut Vec::new()))
    }

    fn finite(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.series.iter().flat_map(|s| s.points.iter().copied()).filter(|(x, y)| x.is_finite() && y.is_finite())
    }

    #[allow(clippy::type_complexity)] // ((x0, x1), (y0, y1))
    fn ranges(&self) -> Result<((f64, f64), (f64, f64)), PlotError> {
        if self.series.iter().all(|s| s.points.is_empty()) {
            return Err(PlotError::Empty("scatter plot without points"));
        }
        let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for (x, y) in self.finite() {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        if x0 > x1 {
            return Err(PlotError::NonFinite);
        }
        Ok((padded(x0, x1, 0.05), padded(y0, y1, 0.05)))
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        ((x0, x1), (y0, y1)): ((f64, f64), (f64, f64)),
        width: u32,
        height: u32,
        points: &mut Vec<PointPosition>,
    ) -> Result<(), PlotError> {
        let fs = base_font(width, height);
        root.fill(&WHITE).map_err(draw_err)?;
        let area = if self.title.trim().is_empty() {
            root.clone()
        } else {
            root.titled(&self.title, ("sans-serif", fs * 1.4)).map_err(draw_err)?
        };
        let x_area = (fs * if self.x_label.trim().is_empty() { 2.0 } else { 3.6 }) as u32;
        let margin = (fs * 1.2) as u32;
        // Headroom for the legend (upper right) so it never hides points.
        let labelled = self.series.iter().filter(|s| !s.label.is_empty()).count();
        let y1 = legend_headroom(y0, y1, labelled, &self.title, height, x_area, margin, fs);
        let mut chart = xy_chart(&area, XyAxes { x: (x0, x1), y: (y0, y1), x_label: &self.x_label, y_label: &self.y_label, x_area, margin, fs })?;
        let r = (fs * 0.3).max(2.5) as i32;
        for (i, s) in self.series.iter().enumerate() {
            let c = color(i);
            for (k, p) in s.points.iter().enumerate().filter(|(_, (x, y))| x.is_finite() && y.is_finite()) {
                let (px, py) = chart.backend_coord(p);
                points.push(PointPosition { group: i, index: k, x: px, y: py, radius: r });
            }
            let pts = s.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite());
            let drawn = chart
                .draw_series(pts.map(|p| Circle::new(p, r, c.mix(0.8).filled())))
                .map_err(draw_err)?;
            if !s.label.is_empty() {
                drawn.label(s.label.as_str()).legend(move |(x, y)| Circle::new((x + 6, y), r, c.filled()));
            }
        }
        if labelled > 0 {
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight, fs)?;
        }
        Ok(())
    }
}
