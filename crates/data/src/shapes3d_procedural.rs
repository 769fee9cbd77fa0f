//! A procedural Shapes3D: a room (floor and three walls) with one object in the middle,
//! rendered by the software rasterizer, on the official factor grid (floor hue 10, wall hue
//! 10, object hue 10, scale 8, shape 4, orientation 15 = 480,000 images, 64×64 RGB).
//!
//! Geometry depends only on (scale, shape, orientation): 480 scenes. Colours enter linearly
//! (Lambert shade × albedo), so each scene is rasterized once at 4×4 supersampling into three
//! per-pixel weights (the shaded, antialiased coverage of floor, walls and object) and an
//! image is Σ_surface weight × RGB(hue), rounded to bytes as the official images are. That
//! makes every observation exact and cheap (one 64×64×3 multiply-add) without rendering or
//! storing 480,000 images.
//!
//! The official scene was made with MuJoCo; this one keeps its factor semantics (hues, object
//! scale in [0.75, 1.25], cube / cylinder / sphere / capsule, camera azimuth in [−30°, 30°])
//! and its look (a floor and a back wall with side walls in view), not its pixels.

use rayon::prelude::*;

use crate::error::{DataError, Result};
use crate::factors::{FactorDataset, FactorSpace, check_output};
use crate::render3d::{Camera, Fragments, Triangle, Vec3, rasterize};

pub const FACTOR_NAMES: [&str; 6] = ["floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"];
pub const FACTOR_SIZES: [usize; 6] = [10, 10, 10, 8, 4, 15];
/// The shapes, in the order of the official `shape` factor.
pub const SHAPE_NAMES: [&str; 4] = ["cube", "cylinder", "sphere", "capsule"];

const SIZE: usize = 64;
const SUPERSAMPLE: usize = 4;
/// Surfaces whose colours are factors: floor, walls, object.
const SURFACES: usize = 3;

/// The official label value of class `class` of factor `factor` (what the `labels` array of
/// the official files holds): hues h/10, scale linspace(0.75, 1.25, 8), shape index,
/// orientation linspace(−30, 30, 15) degrees.
pub fn label_value(factor: usize, class: usize) -> f64 {
    match factor {
        0..=2 => class as f64 / 10.0,
        3 => 0.75 + 0.5 * class as f64 / 7.0,
        4 => class as f64,
        _ => -30.0 + 60.0 * class as f64 / 14.0,
    }
}

/// HSV (saturation 0.85, value 1) to linear RGB in [0, 1].
pub fn hue_rgb(hue: f64) -> [f64; 3] {
    let (s, v) = (0.85, 1.0);
    let h6 = hue.rem_euclid(1.0) * 6.0;
    let i = h6.floor() as usize % 6;
    let f = h6 - h6.floor();
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    match i {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

fn tri(a: Vec3, b: Vec3, c: Vec3) -> Triangle {
    Triangle { v: [a, b, c], color: [1.0; 3] }
}

fn quad(out: &mut Vec<Triangle>, a: Vec3, b: Vec3, c: Vec3, d: Vec3) {
    out.push(tri(a, b, c));
    out.push(tri(a, c, d));
}

/// A surface of revolution about the vertical axis through (0, ·, 0): `profile` lists
/// (radius, height) from bottom to top; `segments` around.
fn lathe(out: &mut Vec<Triangle>, profile: &[(f64, f64)], segments: usize) {
    let at = |(r, y): (f64, f64), k: usize| {
        let a = std::f64::consts::TAU * k as f64 / segments as f64;
        [r * a.cos(), y, r * a.sin()]
    };
    for w in profile.windows(2) {
        for k in 0..segments {
            let (a, b, c, d) = (at(w[0], k), at(w[0], k + 1), at(w[1], k + 1), at(w[1], k));
            if w[0].0 > 0.0 {
                out.push(tri(a, b, c));
            }
            if w[1].0 > 0.0 {
                out.push(tri(a, c, d));
            }
        }
    }
}

/// The object's triangles for `shape` at `scale`, resting on the floor at the origin.
pub fn object_mesh(shape: usize, scale: f64) -> Vec<Triangle> {
    let mut t = Vec::new();
    match shape {
        0 => {
            let h = 0.4 * scale;
            let p = |x: f64, y: f64, z: f64| [x * h, (y + 1.0) * h, z * h];
            // Rotated 20° so that two faces are in view at azimuth 0.
            let (s, c) = 20f64.to_radians().sin_cos();
            let mut faces = Vec::new();
            for (a, b, cc, d) in [
                (p(-1., -1., 1.), p(1., -1., 1.), p(1., 1., 1.), p(-1., 1., 1.)),
                (p(1., -1., -1.), p(-1., -1., -1.), p(-1., 1., -1.), p(1., 1., -1.)),
                (p(1., -1., 1.), p(1., -1., -1.), p(1., 1., -1.), p(1., 1., 1.)),
                (p(-1., -1., -1.), p(-1., -1., 1.), p(-1., 1., 1.), p(-1., 1., -1.)),
                (p(-1., 1., 1.), p(1., 1., 1.), p(1., 1., -1.), p(-1., 1., -1.)),
            ] {
                quad(&mut faces, a, b, cc, d);
            }
            t.extend(faces.into_iter().map(|f| Triangle { v: f.v.map(|v| [c * v[0] + s * v[2], v[1], -s * v[0] + c * v[2]]), color: f.color }));
        }
        1 => {
            let (r, h) = (0.4 * scale, 0.8 * scale);
            lathe(&mut t, &[(0.0, 0.0), (r, 0.0), (r, h), (0.0, h)], 40);
        }
        2 => {
            let r = 0.45 * scale;
            let rings = 20;
            let profile: Vec<(f64, f64)> = (0..=rings)
                .map(|i| {
                    let a = std::f64::consts::PI * i as f64 / rings as f64;
                    (r * a.sin(), r - r * a.cos())
                })
                .collect();
            lathe(&mut t, &profile, 40);
        }
        _ => {
            // A capsule lying along x: built upright, then turned onto its side.
            let (r, half) = (0.3 * scale, 0.28 * scale);
            let rings = 10;
            let mut profile = Vec::new();
            for i in 0..=rings {
                let a = std::f64::consts::FRAC_PI_2 * i as f64 / rings as f64;
                profile.push((r * a.sin(), -half - r * a.cos()));
            }
            for i in 0..=rings {
                let a = std::f64::consts::FRAC_PI_2 * i as f64 / rings as f64;
                profile.push((r * a.cos(), half + r * a.sin()));
            }
            let mut upright = Vec::new();
            lathe(&mut upright, &profile, 32);
            t.extend(upright.into_iter().map(|f| Triangle { v: f.v.map(|v| [v[1], v[0] + r, v[2]]), color: f.color }));
        }
    }
    t
}

/// A rectangle from `origin` spanned by `u` and `v`, cut into `nu` × `nv` quads: the
/// rasterizer drops any triangle with a vertex behind the camera, and the camera stands
/// inside the room, so the floor and walls must be made of pieces small enough that only
/// pieces out of view are dropped.
fn tiled(out: &mut Vec<Triangle>, origin: Vec3, u: Vec3, v: Vec3, nu: usize, nv: usize) {
    let at = |i: usize, j: usize| {
        let (a, b) = (i as f64 / nu as f64, j as f64 / nv as f64);
        [origin[0] + a * u[0] + b * v[0], origin[1] + a * u[1] + b * v[1], origin[2] + a * u[2] + b * v[2]]
    };
    for i in 0..nu {
        for j in 0..nv {
            quad(out, at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1));
        }
    }
}

/// Floor, walls and object, with the index where each surface's triangles start.
fn scene(shape: usize, scale: f64) -> (Vec<Triangle>, [usize; SURFACES]) {
    const L: f64 = 4.0; // half-size of the square room
    const H: f64 = 5.0; // wall height
    const N: usize = 16; // tiles along the room's side (half a unit each)
    let mut t = Vec::new();
    tiled(&mut t, [-L, 0.0, -L], [2.0 * L, 0.0, 0.0], [0.0, 0.0, 2.0 * L], N, N);
    let walls = t.len();
    tiled(&mut t, [-L, 0.0, -L], [2.0 * L, 0.0, 0.0], [0.0, H, 0.0], N, 10);
    tiled(&mut t, [-L, 0.0, -L], [0.0, 0.0, 2.0 * L], [0.0, H, 0.0], N, 10);
    tiled(&mut t, [L, 0.0, -L], [0.0, 0.0, 2.0 * L], [0.0, H, 0.0], N, 10);
    let object = t.len();
    t.extend(object_mesh(shape, scale));
    (t, [0, walls, object])
}

/// The three surface weights (floor, walls, object) of every pixel of one scene, pixel-major.
pub fn scene_weights(shape: usize, scale: f64, azimuth_deg: f64) -> Vec<f32> {
    let (tris, starts) = scene(shape, scale);
    let a = azimuth_deg.to_radians();
    let (dist, height) = (2.8, 1.2);
    let big = SIZE * SUPERSAMPLE;
    let cam = Camera { eye: [dist * a.sin(), height, dist * a.cos()], target: [0.0, 0.6, 0.0], up: [0.0, 1.0, 0.0], fov_y: 45.0, width: big, height: big };
    let frags = rasterize(&tris, &cam, [-0.3, 0.45, 0.85]);
    let surface = |t: u32| starts.iter().rposition(|&s| t as usize >= s).unwrap_or(0);
    let mut w = vec![0f32; SIZE * SIZE * SURFACES];
    let norm = 1.0 / (SUPERSAMPLE * SUPERSAMPLE) as f64;
    for y in 0..SIZE {
        for x in 0..SIZE {
            let mut acc = [0f64; SURFACES];
            for sy in 0..SUPERSAMPLE {
                for sx in 0..SUPERSAMPLE {
                    let p = (y * SUPERSAMPLE + sy) * big + x * SUPERSAMPLE + sx;
                    let t = frags.triangle[p];
                    if t != Fragments::NONE {
                        acc[surface(t)] += frags.shade[p] * norm;
                    }
                }
            }
            for s in 0..SURFACES {
                w[(y * SIZE + x) * SURFACES + s] = acc[s] as f32;
            }
        }
    }
    w
}

/// The procedural Shapes3D on the official grid or on an evenly spaced sub-grid of it.
pub struct Shapes3dProcedural {
    space: FactorSpace,
    /// Official class index of each class of each factor (the identity on the full grid).
    classes: [Vec<usize>; 6],
    /// Per (scale, shape, orientation) class triple of this grid: the scene's weights.
    weights: Vec<Vec<f32>>,
}

/// `n` evenly spaced classes out of `of` (all of them when n = of).
fn pick(n: usize, of: usize) -> Vec<usize> {
    if n == 1 {
        return vec![of / 2];
    }
    (0..n).map(|i| (i * (of - 1) + (n - 1) / 2) / (n - 1)).collect()
}

impl Shapes3dProcedural {
    /// The official 480,000-image grid (renders the 480 scenes, about a second on two cores).
    pub fn new() -> Self {
        Self::with_grid(FACTOR_SIZES).expect("the official grid is valid")
    }

    /// A sub-grid with `sizes[k]` evenly spaced classes of factor k (for quick tests).
    pub fn with_grid(sizes: [usize; 6]) -> Result<Self> {
        for (k, (&n, &of)) in sizes.iter().zip(&FACTOR_SIZES).enumerate() {
            if n == 0 || n > of {
                return Err(DataError::InvalidParameter { name: "grid", message: format!("{} needs 1 … {of} classes, got {n}", FACTOR_NAMES[k]) });
            }
        }
        let classes: [Vec<usize>; 6] = std::array::from_fn(|k| pick(sizes[k], FACTOR_SIZES[k]));
        let mut triples = Vec::new();
        for &sc in &classes[3] {
            for &sh in &classes[4] {
                for &or in &classes[5] {
                    triples.push((sc, sh, or));
                }
            }
        }
        let weights = triples.par_iter().map(|&(sc, sh, or)| scene_weights(sh, label_value(3, sc), label_value(5, or))).collect();
        Ok(Shapes3dProcedural { space: FactorSpace::new(&FACTOR_NAMES, &sizes)?, classes, weights })
    }

    /// The official label values (floor hue … orientation) of a factor vector of this grid.
    pub fn labels(&self, factors: &[usize]) -> [f64; 6] {
        std::array::from_fn(|k| label_value(k, self.classes[k][factors[k]]))
    }

    /// Image of one factor vector as official bytes (64×64×3, HWC).
    pub fn write_image_u8(&self, factors: &[usize], out: &mut [u8]) {
        let c = &self.classes;
        let colours = [hue_rgb(label_value(0, c[0][factors[0]])), hue_rgb(label_value(1, c[1][factors[1]])), hue_rgb(label_value(2, c[2][factors[2]]))];
        let s = self.space.sizes();
        let w = &self.weights[(factors[3] * s[4] + factors[4]) * s[5] + factors[5]];
        for p in 0..SIZE * SIZE {
            let ws = &w[p * SURFACES..(p + 1) * SURFACES];
            for ch in 0..3 {
                let v: f64 = (0..SURFACES).map(|s| ws[s] as f64 * colours[s][ch]).sum();
                out[p * 3 + ch] = (v * 255.0).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

impl Default for Shapes3dProcedural {
    fn default() -> Self {
        Self::new()
    }
}

impl FactorDataset for Shapes3dProcedural {
    fn name(&self) -> &str {
        "shapes3d"
    }
    fn source(&self) -> String {
        format!("procedural Shapes3D (software renderer, grid {:?})", self.space.sizes())
    }
    fn factors(&self) -> &FactorSpace {
        &self.space
    }
    fn observation_shape(&self) -> [usize; 3] {
        [3, SIZE, SIZE]
    }
    fn resident_bytes(&self) -> usize {
        self.weights.iter().map(|w| w.len() * 4).sum()
    }
    fn write_observations(&self, factors: &[usize], out: &mut [f32]) -> Result<()> {
        check_output(&self.space, self.observation_len(), factors, out)?;
        let k = self.space.num_factors();
        out.par_chunks_mut(3 * SIZE * SIZE).zip(factors.par_chunks(k)).for_each(|(o, f)| {
            let mut bytes = [0u8; 3 * SIZE * SIZE];
            self.write_image_u8(f, &mut bytes);
            for ch in 0..3 {
                for p in 0..SIZE * SIZE {
                    o[ch * SIZE * SIZE + p] = bytes[p * 3 + ch] as f32 / 255.0;
                }
            }
        });
        Ok(())
    }
}

/// Writes `d` in disentanglement_lib's Shapes3D layout: an uncompressed `.npz` with `images`
/// (N×64×64×3 uint8) and `labels` (N×6 float64 official values), rows in row-major factor
/// order; streamed image by image.
pub fn write_shapes3d_npz(path: &std::path::Path, d: &Shapes3dProcedural) -> Result<()> {
    use crate::npy::{DType, NpzWriter, f64_bytes};
    let n = d.space.len();
    let mut w = NpzWriter::create(path, zip::CompressionMethod::Stored)?;
    w.start("images", DType::U8, &[n, SIZE, SIZE, 3])?;
    let mut f = vec![0usize; 6];
    // Chunks rendered in parallel, written in order.
    let chunk = 4096;
    for start in (0..n).step_by(chunk) {
        let end = (start + chunk).min(n);
        let bytes: Vec<u8> = (start..end)
            .into_par_iter()
            .flat_map_iter(|i| {
                let mut f = [0usize; 6];
                d.space.factors_into(i, &mut f).expect("index in range");
                let mut img = vec![0u8; SIZE * SIZE * 3];
                d.write_image_u8(&f, &mut img);
                img
            })
            .collect();
        w.write(&bytes)?;
    }
    w.start("labels", DType::F64, &[n, 6])?;
    let mut labels = Vec::with_capacity(n * 6);
    for i in 0..n {
        d.space.factors_into(i, &mut f)?;
        labels.extend(d.labels(&f));
    }
    w.write(&f64_bytes(&labels))?;
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hues_are_saturated_colours_in_order() {
        assert_eq!(hue_rgb(0.0), [1.0, 0.15000000000000002, 0.15000000000000002]);
        let g = hue_rgb(1.0 / 3.0);
        assert!(g[1] == 1.0 && g[0] < 0.2 && g[2] < 0.2, "{g:?}");
        assert_eq!(label_value(3, 7), 1.25);
        assert_eq!(label_value(5, 0), -30.0);
        assert_eq!(label_value(5, 14), 30.0);
        assert_eq!(pick(15, 15), (0..15).collect::<Vec<_>>());
        assert_eq!(pick(3, 15), vec![0, 7, 14]);
    }

    #[test]
    fn each_factor_changes_the_image_where_it_should() {
        let d = Shapes3dProcedural::with_grid([2, 2, 2, 2, 4, 3]).unwrap();
        let img = |f: [usize; 6]| {
            let mut b = vec![0u8; 64 * 64 * 3];
            d.write_image_u8(&f, &mut b);
            b
        };
        let base = img([0, 0, 0, 0, 0, 1]);
        let px = |b: &[u8], x: usize, y: usize| [b[(y * 64 + x) * 3], b[(y * 64 + x) * 3 + 1], b[(y * 64 + x) * 3 + 2]];
        // Bottom-left pixel is floor, top-left pixel is wall, the centre is the object.
        let (floor, wall, object) = ((2, 62), (2, 2), (32, 36));
        let changed = |f: [usize; 6]| {
            let other = img(f);
            [floor, wall, object].map(|(x, y)| px(&base, x, y) != px(&other, x, y))
        };
        assert_eq!(changed([1, 0, 0, 0, 0, 1]), [true, false, false]);
        assert_eq!(changed([0, 1, 0, 0, 0, 1]), [false, true, false]);
        assert_eq!(changed([0, 0, 1, 0, 0, 1]), [false, false, true]);
        // The red object (hue 0): red dominates at the centre.
        let c = px(&base, object.0, object.1);
        assert!(c[0] > c[1] && c[0] > c[2], "{c:?}");
        // Geometry factors move pixels; the four shapes all differ.
        let shapes: Vec<Vec<u8>> = (0..4).map(|s| img([0, 0, 0, 0, s, 1])).collect();
        for a in 0..4 {
            for b in a + 1..4 {
                assert_ne!(shapes[a], shapes[b], "shapes {a} and {b}");
            }
        }
        assert_ne!(img([0, 0, 0, 1, 0, 1]), base, "scale");
        assert_ne!(img([0, 0, 0, 0, 0, 0]), base, "orientation");
        // A bigger object covers more pixels that are not floor or wall coloured.
        let coverage = |sc: usize| d.weights[(sc * 4) * 3 + 1].chunks(3).filter(|w| w[2] > 0.5 * (w[0] + w[1] + w[2])).count();
        assert!(coverage(1) > coverage(0), "{} vs {}", coverage(1), coverage(0));
    }

    #[test]
    fn weights_are_shaded_coverage() {
        // Every pixel sees some surface (the room is closed in view) and its weights are
        // the mean shade of its samples: between the ambient 0.35 and 1.
        for az in [-30.0, 0.0, 30.0] {
            let w = scene_weights(1, 1.0, az);
            for p in w.chunks(3) {
                let total: f32 = p.iter().sum();
                assert!((0.35 - 1e-6..=1.0 + 1e-6).contains(&total), "azimuth {az}: {p:?}");
            }
        }
    }
}
