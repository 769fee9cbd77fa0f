//! dSprites rendered by us: the full 3 × 6 × 40 × 32 × 32 factor grid of binary 64×64
//! sprites, so nothing needs downloading. This is the embedded default `dsprites`.
//!
//! Conventions (chosen to match the official sprites' look; documented because the
//! official generator is not public):
//! - Pixel (row i, column j) is "on" when its centre (j + ½, i + ½) lies inside the shape.
//! - Position: class c of n along an axis puts the sprite centre at pixel coordinate
//!   16 + round(31·c/(n−1)), i.e. 16 … 47 for the official n = 32 (one pixel per step,
//!   centres on pixel corners so the sprite is pixel-symmetric). `pos_x` moves right,
//!   `pos_y` moves down (image rows), as when the official arrays are shown with imshow.
//! - Scale s ∈ {0.5, 0.6, …, 1.0} multiplies a base size: square half-side 10·s px
//!   (20 px side at s = 1), ellipse semi-axes 12·s × 6·s px (long axis horizontal at
//!   orientation 0), heart ≈ 20·s px wide with its point down at orientation 0.
//!   Every shape stays inside the 64×64 canvas at every position.
//! - Orientation θ_c = 2π·c/(n−1) (40 values over [0, 2π] inclusive), counter-clockwise
//!   on screen; angles are taken modulo 2π, so classes 0 and 39 render identically (as in
//!   the official data, where they are duplicates).
//! - Official `latents_values`: color 1, shape 1/2/3, scale, orientation in radians,
//!   positions c/(n−1) ∈ [0, 1].

use std::f64::consts::PI;
use std::path::Path;

use rayon::prelude::*;

use crate::binary_images::{BinaryImages, pack_into};
use crate::dsprites_official::{DSpritesFileContents, write_dsprites_npz};
use crate::error::{DataError, Result};
use crate::factors::{FactorDataset, FactorSpace, check_output};

pub const SHAPES: [&str; 3] = ["square", "ellipse", "heart"];
const SIZE: usize = 64;
const CENTER: f64 = 32.0;

/// Sizes of a procedural grid: [shape ≤ 3, scale, orientation, pos_x, pos_y].
/// The official grid is `[3, 6, 40, 32, 32]`; smaller grids span the same value ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DSpritesGrid(pub [usize; 5]);

impl Default for DSpritesGrid {
    fn default() -> Self {
        DSpritesGrid([3, 6, 40, 32, 32])
    }
}

/// The embedded dSprites generator. Holds one pre-rendered centred mask per
/// (shape, scale, orientation) — 720 masks, 2.9 MB — and translates it by whole pixels
/// for each position, so rendering any observation is a copy.
pub struct DSpritesProcedural {
    grid: DSpritesGrid,
    space: FactorSpace,
    /// Centred 64×64 masks, indexed [shape][scale][orientation], 0/1 bytes.
    masks: Vec<Vec<u8>>,
}

/// Value of class `c` of `n` evenly spaced over [lo, hi] (lo when n = 1).
fn linspace(lo: f64, hi: f64, c: usize, n: usize) -> f64 {
    if n <= 1 { lo } else { lo + (hi - lo) * c as f64 / (n - 1) as f64 }
}

impl DSpritesProcedural {
    pub fn new() -> Self {
        Self::with_grid(DSpritesGrid::default()).expect("the default grid is valid")
    }

    pub fn with_grid(grid: DSpritesGrid) -> Result<Self> {
        let [sh, sc, or, px, py] = grid.0;
        if !(1..=3).contains(&sh) || [sc, or, px, py].contains(&0) || px > 32 || py > 32 {
            return Err(DataError::InvalidParameter {
                name: "dsprites grid",
                message: format!("{:?}: need 1–3 shapes, ≥ 1 of everything, ≤ 32 positions", grid.0),
            });
        }
        let space = FactorSpace::new(&["shape", "scale", "orientation", "pos_x", "pos_y"], &grid.0)?;
        let masks = (0..sh * sc * or)
            .into_par_iter()
            .map(|m| {
                let (s, rest) = (m / (sc * or), m % (sc * or));
                let (c, o) = (rest / or, rest % or);
                render_centered(s, linspace(0.5, 1.0, c, sc), linspace(0.0, 2.0 * PI, o, or))
            })
            .collect();
        Ok(DSpritesProcedural { grid, space, masks })
    }

    pub fn grid(&self) -> DSpritesGrid {
        self.grid
    }

    /// Pixel offset of the sprite centre from the canvas centre for position class c of n.
    fn offset(c: usize, n: usize) -> isize {
        let centre = if n <= 1 { 32.0 } else { 16.0 + (31.0 * c as f64 / (n - 1) as f64).round() };
        centre as isize - CENTER as isize
    }

    /// Renders one observation as 0/1 bytes (64×64, row-major).
    pub fn render_u8(&self, factors: &[usize], out: &mut [u8]) -> Result<()> {
        self.space.index_of(factors)?;
        let [_, sc, or, px, py] = self.grid.0;
        let mask = &self.masks[(factors[0] * sc + factors[1]) * or + factors[2]];
        let dx = Self::offset(factors[3], px);
        let dy = Self::offset(factors[4], py);
        out.fill(0);
        for i in 0..SIZE {
            let si = i as isize - dy;
            if !(0..SIZE as isize).contains(&si) {
                continue;
            }
            let src = &mask[si as usize * SIZE..(si as usize + 1) * SIZE];
            let dst = &mut out[i * SIZE..(i + 1) * SIZE];
            for (j, d) in dst.iter_mut().enumerate() {
                let sj = j as isize - dx;
                if (0..SIZE as isize).contains(&sj) {
                    *d = src[sj as usize];
                }
            }
        }
        Ok(())
    }

    /// `latents_classes` and `latents_values` rows (official 6-column layout) of flat index i.
    fn latents(&self, i: usize) -> ([i64; 6], [f64; 6]) {
        let f = self.space.factors_of(i).expect("index in range");
        let [_, sc, or, px, py] = self.grid.0;
        let classes = [0, f[0] as i64, f[1] as i64, f[2] as i64, f[3] as i64, f[4] as i64];
        let values = [
            1.0,
            (f[0] + 1) as f64,
            linspace(0.5, 1.0, f[1], sc),
            linspace(0.0, 2.0 * PI, f[2], or),
            linspace(0.0, 1.0, f[3], px),
            linspace(0.0, 1.0, f[4], py),
        ];
        (classes, values)
    }

    /// Renders every observation into bit-packed memory (in parallel).
    pub fn render_all(&self) -> BinaryImages {
        let mut images = BinaryImages::zeros(self.space.len(), SIZE, SIZE);
        images.chunks_mut().enumerate().par_bridge().for_each_init(
            || (vec![0u8; SIZE * SIZE], vec![0usize; 5]),
            |(buf, f), (i, words)| {
                self.space.factors_into(i, f).expect("index in range");
                self.render_u8(f, buf).expect("factors in range");
                pack_into(buf, words);
            },
        );
        images
    }

    /// Writes the whole grid as an `.npz` in the official layout.
    pub fn write_npz(&self, path: &Path) -> Result<()> {
        let n = self.space.len();
        let mut classes = Vec::with_capacity(n * 6);
        let mut values = Vec::with_capacity(n * 6);
        for i in 0..n {
            let (c, v) = self.latents(i);
            classes.extend(c);
            values.extend(v);
        }
        let contents = DSpritesFileContents {
            height: SIZE,
            width: SIZE,
            latents_classes: &classes,
            latents_values: &values,
            description: "procedural dSprites rendered by disentangle (not the DeepMind file)",
        };
        let mut f = vec![0usize; 5];
        write_dsprites_npz(path, &contents, |i, buf| {
            self.space.factors_into(i, &mut f).expect("index in range");
            self.render_u8(&f, buf).expect("factors in range");
        })
    }
}

impl Default for DSpritesProcedural {
    fn default() -> Self {
        Self::new()
    }
}

impl FactorDataset for DSpritesProcedural {
    fn name(&self) -> &str {
        "dsprites"
    }
    fn source(&self) -> String {
        format!("procedural (rendered on demand), grid {:?}", self.grid.0)
    }
    fn factors(&self) -> &FactorSpace {
        &self.space
    }
    fn observation_shape(&self) -> [usize; 3] {
        [1, SIZE, SIZE]
    }
    fn resident_bytes(&self) -> usize {
        self.masks.iter().map(Vec::len).sum()
    }
    fn write_observations(&self, factors: &[usize], out: &mut [f32]) -> Result<()> {
        let len = self.observation_len();
        check_output(&self.space, len, factors, out)?;
        let mut buf = vec![0u8; len];
        for (row, o) in factors.chunks_exact(5).zip(out.chunks_exact_mut(len)) {
            self.render_u8(row, &mut buf)?;
            for (d, &s) in o.iter_mut().zip(&buf) {
                *d = s as f32;
            }
        }
        Ok(())
    }
}

/// Is the point (x, y) (pixels from the sprite centre, y up) inside the unrotated shape?
fn inside(shape: usize, scale: f64, x: f64, y: f64) -> bool {
    match shape {
        0 => x.abs() <= 10.0 * scale && y.abs() <= 10.0 * scale,
        1 => (x / (12.0 * scale)).powi(2) + (y / (6.0 * scale)).powi(2) <= 1.0,
        _ => {
            // The classic implicit heart (x² + y² − 1)³ − x²y³ ≤ 0 spans x ∈ ±1.139,
            // y ∈ [−1, 1.25]; scale it to ≈ 20 px wide and centre its bounding box.
            let k = 8.8 * scale;
            let (u, v) = (x / k, y / k + 0.125);
            let r = u * u + v * v - 1.0;
            r * r * r - u * u * v * v * v <= 0.0
        }
    }
}

/// A 64×64 mask of the shape centred on the canvas centre (a pixel corner).
fn render_centered(shape: usize, scale: f64, angle: f64) -> Vec<u8> {
    let angle = angle.rem_euclid(2.0 * PI);
    let (s, c) = angle.sin_cos();
    let mut out = vec![0u8; SIZE * SIZE];
    for i in 0..SIZE {
        for j in 0..SIZE {
            let x = j as f64 + 0.5 - CENTER;
            let y = CENTER - (i as f64 + 0.5); // screen rows go down, y goes up
            // Rotate the point by −angle to test it against the unrotated shape.
            let (u, v) = (c * x + s * y, -s * x + c * y);
            out[i * SIZE + j] = inside(shape, scale, u, v) as u8;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // shapes are indices into the factor grid
mod tests {
    use super::*;

    fn render(d: &DSpritesProcedural, f: [usize; 5]) -> Vec<u8> {
        let mut b = vec![0u8; SIZE * SIZE];
        d.render_u8(&f, &mut b).unwrap();
        b
    }
    fn area(img: &[u8]) -> usize {
        img.iter().map(|&v| v as usize).sum()
    }
    fn centroid(img: &[u8]) -> (f64, f64) {
        let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
        for (p, &v) in img.iter().enumerate() {
            if v == 1 {
                sx += (p % SIZE) as f64;
                sy += (p / SIZE) as f64;
                n += 1.0;
            }
        }
        (sx / n, sy / n)
    }

    #[test]
    fn area_scales_quadratically() {
        let d = DSpritesProcedural::new();
        for shape in 0..3 {
            for orient in [0, 7, 20] {
                let big = area(&render(&d, [shape, 5, orient, 16, 16]));
                let small = area(&render(&d, [shape, 0, orient, 16, 16]));
                let ratio = big as f64 / small as f64;
                assert!((3.6..=4.4).contains(&ratio), "{} orient {orient}: {big}/{small} = {ratio}", SHAPES[shape]);
            }
        }
        // Square of side 20 at scale 1 covers exactly 400 pixel centres.
        assert_eq!(area(&render(&d, [0, 5, 0, 16, 16])), 400);
    }

    #[test]
    fn orientation_zero_and_two_pi_match() {
        let d = DSpritesProcedural::new();
        for shape in 0..3 {
            for scale in 0..6 {
                assert_eq!(render(&d, [shape, scale, 0, 5, 9]), render(&d, [shape, scale, 39, 5, 9]));
            }
            // …but an intermediate orientation differs for the asymmetric shapes.
            if shape > 0 {
                assert_ne!(render(&d, [shape, 5, 0, 5, 9]), render(&d, [shape, 5, 5, 5, 9]));
            }
        }
    }

    #[test]
    fn heart_is_mirror_symmetric_at_orientation_zero() {
        let d = DSpritesProcedural::new();
        for scale in 0..6 {
            for px in [0, 13, 31] {
                let img = render(&d, [2, scale, 0, px, 10]);
                let cx = 16 + px; // sprite centre column (pixel corner)
                for i in 0..SIZE {
                    for j in 0..SIZE {
                        let m = 2 * cx as isize - 1 - j as isize;
                        let mirrored = if (0..SIZE as isize).contains(&m) { img[i * SIZE + m as usize] } else { 0 };
                        assert_eq!(img[i * SIZE + j], mirrored, "scale {scale} pos {px} at ({i},{j})");
                    }
                }
                // And it is not symmetric top-to-bottom (it has a point).
                let flipped: Vec<u8> = (0..SIZE * SIZE)
                    .map(|p| {
                        let r = 2 * 26 - 1 - (p / SIZE) as isize; // centre row 16 + 10
                        if (0..SIZE as isize).contains(&r) { img[r as usize * SIZE + p % SIZE] } else { 0 }
                    })
                    .collect();
                assert_ne!(img, flipped);
            }
        }
    }

    #[test]
    fn position_moves_centroid_monotonically() {
        let d = DSpritesProcedural::new();
        for shape in 0..3 {
            let mut last = (f64::NEG_INFINITY, f64::NEG_INFINITY);
            for p in 0..32 {
                let (x, _) = centroid(&render(&d, [shape, 3, 11, p, 4]));
                let (_, y) = centroid(&render(&d, [shape, 3, 11, 4, p]));
                assert!(x > last.0 && y > last.1, "{} pos {p}", SHAPES[shape]);
                last = (x, y);
            }
        }
    }

    #[test]
    fn sprites_stay_inside_the_canvas() {
        let d = DSpritesProcedural::new();
        for shape in 0..3 {
            for o in 0..40 {
                for (px, py) in [(0, 0), (31, 31), (0, 31)] {
                    let full = area(&render(&d, [shape, 5, o, 16, 16]));
                    assert_eq!(area(&render(&d, [shape, 5, o, px, py])), full, "{} o {o} clipped", SHAPES[shape]);
                }
            }
        }
    }

    #[test]
    fn observations_are_binary_floats_matching_bytes() {
        let d = DSpritesProcedural::new();
        let f = [1, 2, 3, 4, 5, 2, 5, 39, 31, 0];
        let obs = d.observations(&f).unwrap();
        assert_eq!(obs.len(), 2 * 4096);
        let b = render(&d, [2, 5, 39, 31, 0]);
        assert!(obs[4096..].iter().zip(&b).all(|(&o, &v)| o == v as f32));
        assert!(d.observations(&[3, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn smaller_grids_reuse_the_same_value_ranges() {
        let full = DSpritesProcedural::new();
        let small = DSpritesProcedural::with_grid(DSpritesGrid([2, 2, 2, 2, 2])).unwrap();
        // Class 1 of 2 is the last value: scale 1.0, angle 2π, position 1.0.
        assert_eq!(render(&small, [1, 1, 1, 1, 0]), render(&full, [1, 5, 39, 31, 0]));
        assert!(DSpritesProcedural::with_grid(DSpritesGrid([4, 1, 1, 1, 1])).is_err());
    }
}
