//! Image grids: observations (C×H×W floats in [0, 1], C = 1 or 3) tiled row by row with a
//! gap between cells, written as PNG without ever leaving a half-written file behind.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::RgbImage;

#[derive(Debug, thiserror::Error)]
pub enum GridError {
    #[error("images must have 1 or 3 channels, got {0}")]
    Channels(usize),
    #[error("grid of {rows}×{cols} cells cannot hold {images} images")]
    TooMany { rows: usize, cols: usize, images: usize },
    #[error("buffer of {got} values is not a whole number of {per_image}-value images")]
    Buffer { got: usize, per_image: usize },
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A grid of equally sized images on a background.
pub struct ImageGrid {
    canvas: RgbImage,
    shape: [usize; 3],
    cols: usize,
    rows: usize,
    gap: usize,
}

impl ImageGrid {
    /// An empty (mid-grey) grid of `rows`×`cols` cells of images of `shape` (C, H, W).
    pub fn new(shape: [usize; 3], rows: usize, cols: usize, gap: usize) -> Result<Self, GridError> {
        if shape[0] != 1 && shape[0] != 3 {
            return Err(GridError::Channels(shape[0]));
        }
        let w = cols * shape[2] + (cols + 1) * gap;
        let h = rows * shape[1] + (rows + 1) * gap;
        Ok(ImageGrid {
            canvas: RgbImage::from_pixel(w as u32, h as u32, image::Rgb([128, 128, 128])),
            shape,
            cols,
            rows,
            gap,
        })
    }

    /// Fills the grid row by row from a batch of images (n×C×H×W).
    pub fn from_batch(images: &[f32], shape: [usize; 3], cols: usize, gap: usize) -> Result<Self, GridError> {
        let per = shape.iter().product::<usize>();
        if per == 0 || !images.len().is_multiple_of(per) {
            return Err(GridError::Buffer { got: images.len(), per_image: per });
        }
        let n = images.len() / per;
        let cols = cols.max(1);
        let mut g = Self::new(shape, n.div_ceil(cols).max(1), cols, gap)?;
        for (i, img) in images.chunks_exact(per).enumerate() {
            g.put(i / cols, i % cols, img)?;
        }
        Ok(g)
    }

    /// Draws one C×H×W image into cell (row, col). Values are clamped to [0, 1].
    pub fn put(&mut self, row: usize, col: usize, image: &[f32]) -> Result<(), GridError> {
        let [c, h, w] = self.shape;
        if row >= self.rows || col >= self.cols {
            return Err(GridError::TooMany { rows: self.rows, cols: self.cols, images: row * self.cols + col + 1 });
        }
        if image.len() != c * h * w {
            return Err(GridError::Buffer { got: image.len(), per_image: c * h * w });
        }
        let x0 = self.gap + col * (w + self.gap);
        let y0 = self.gap + row * (h + self.gap);
        let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        for y in 0..h {
            for x in 0..w {
                let px = if c == 1 {
                    let v = byte(image[y * w + x]);
                    [v, v, v]
                } else {
                    std::array::from_fn(|k| byte(image[(k * h + y) * w + x]))
                };
                self.canvas.put_pixel((x0 + x) as u32, (y0 + y) as u32, image::Rgb(px));
            }
        }
        Ok(())
    }

    pub fn image(&self) -> &RgbImage {
        &self.canvas
    }

    pub fn save(&self, path: &Path) -> Result<(), GridError> {
        save_png(&self.canvas, path)
    }
}

/// Writes a PNG atomically (a temporary file beside `path`, then renamed into place).
pub fn save_png(img: &RgbImage, path: &Path) -> Result<(), GridError> {
    let bytes = encode_png(img).map_err(|e| match e {
        GridError::Write { source, .. } => GridError::Write { path: path.to_path_buf(), source },
        other => other,
    })?;
    disentangle_data::atomic::write_atomic(path, &bytes).map_err(|source| GridError::Io { path: path.to_path_buf(), source })
}

/// PNG bytes of `img`, in memory (for `data:` URIs in HTML reports).
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>, GridError> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|source| GridError::Write { path: PathBuf::from("<memory>"), source })?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_land_where_expected_and_png_round_trips() {
        // Two 1×2×2 grey images and one RGB image in a 2-column grid with a 1-px gap.
        let a = [0.0, 1.0, 0.5, 0.25];
        let mut batch = a.to_vec();
        batch.extend([1.0, 1.0, 1.0, 1.0]);
        let g = ImageGrid::from_batch(&batch, [1, 2, 2], 2, 1).unwrap();
        assert_eq!(g.image().dimensions(), (2 * 2 + 3, 2 + 2));
        assert_eq!(g.image().get_pixel(1, 1).0, [0, 0, 0]);
        assert_eq!(g.image().get_pixel(2, 1).0, [255, 255, 255]);
        assert_eq!(g.image().get_pixel(1, 2).0, [128, 128, 128]);
        assert_eq!(g.image().get_pixel(2, 2).0, [64, 64, 64]);
        assert_eq!(g.image().get_pixel(0, 0).0, [128, 128, 128]); // gap
        assert_eq!(g.image().get_pixel(4, 1).0, [255, 255, 255]); // second cell

        let mut rgb = ImageGrid::new([3, 1, 1], 1, 1, 0).unwrap();
        rgb.put(0, 0, &[1.0, 0.0, 0.5]).unwrap();
        assert_eq!(rgb.image().get_pixel(0, 0).0, [255, 0, 128]);
        assert!(rgb.put(1, 0, &[0.0; 3]).is_err());
        assert!(ImageGrid::new([2, 1, 1], 1, 1, 0).is_err());

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.png");
        g.save(&p).unwrap();
        let back = image::open(&p).unwrap().to_rgb8();
        assert_eq!(&back, g.image());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }
}
