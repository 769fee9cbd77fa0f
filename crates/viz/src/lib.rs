//! Pictures of datasets and models: image grids, labelled grids, animated GIFs and paper-style
//! plots (violins over seeds, scatter plots) written as PNG or SVG.
//!
//! All text is drawn with DejaVu Sans, embedded in the binary (`assets/DejaVuSans.ttf`, licence
//! beside it), so output never depends on the fonts installed on the machine.

pub mod band_plot;
pub mod gif;
pub mod grid;
pub mod plots;
pub mod text;

pub use band_plot::{BandPlot, BandSeries};
pub use gif::{GifError, save_gif};
pub use grid::{GridError, ImageGrid, encode_png, save_png};
pub use plots::{
    Group, PlotError, PointPosition, ScatterPlot, ScatterSeries, ViolinPlot, kde, quantile, scott_bandwidth, write_atomic,
};
pub use text::{draw_text, label_rows, text_width};

/// DejaVu Sans (Bitstream Vera derivative, free licence; see `assets/DejaVuSans-LICENSE.txt`).
pub(crate) const FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
