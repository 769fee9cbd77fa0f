//! Pictures of datasets and models: image grids written as PNG.

pub mod grid;

pub use grid::{GridError, ImageGrid, save_png};
