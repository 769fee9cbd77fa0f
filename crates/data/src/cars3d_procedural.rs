//! Cars3D rendered by us: N parametric car-like models (body, cabin with a roof, four
//! wheels with hubcaps; proportions, style and paint vary per model) photographed on a
//! turntable at 24 azimuths × 4 elevations, 128×128 RGB on white, then put through exactly
//! the official preprocessing (Lanczos resize to 64×64). The embedded default `cars3d`.
//!
//! Conventions: azimuth a ∈ {0°, 15°, …, 345°} rotates the car about the vertical axis
//! (azimuth 0 = side view, front to the right); elevations are 0°, 10°, 20°, 30° above
//! the car's mid-height. Angles are reduced modulo 360°, so 0° and 360° are one view.
//! Model o's shape and paint come from a ChaCha8 stream seeded with (seed, o), so a
//! model does not change when N changes.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::cars3d_official::{AZIMUTHS, Cars3d, ELEVATIONS, SOURCE_SIZE, downsample_views, interleave_models};
use crate::error::{DataError, Result};
use crate::mat::{self, MatVar};
use crate::render3d::{Camera, Triangle, Vec3, render};

/// Number of models in the standard release, our default.
pub const DEFAULT_MODELS: usize = 183;
pub const ELEVATION_DEGREES: [f64; ELEVATIONS] = [0.0, 10.0, 20.0, 30.0];

/// Shape and paint of one procedural car (model coordinates: x to the front, y up,
/// z across; metres-ish).
#[derive(Debug, Clone, PartialEq)]
pub struct CarModel {
    pub length: f64,
    pub width: f64,
    pub body_height: f64,
    pub wheel_radius: f64,
    pub hood_drop: f64,
    /// Cabin base from `cabin_start` to `cabin_end` (fractions of length from the rear).
    pub cabin_start: f64,
    pub cabin_end: f64,
    pub cabin_height: f64,
    /// Horizontal inset of the roof at the front (windscreen rake) and rear.
    pub rake_front: f64,
    pub rake_rear: f64,
    pub paint: Vec3,
}

impl CarModel {
    /// Model `index` of the procedural family with this seed.
    pub fn generate(seed: u64, index: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        // Style: 0 sedan, 1 hatchback, 2 SUV, 3 pickup, 4 sports car.
        let style = rng.random_range(0..5);
        let length = rng.random_range(3.6..4.9);
        let width = rng.random_range(1.6..2.0);
        let (body_height, cabin_start, cabin_end, cabin_height) = match style {
            0 => (rng.random_range(0.5..0.65), rng.random_range(0.22..0.3), rng.random_range(0.62..0.7), rng.random_range(0.38..0.5)),
            1 => (rng.random_range(0.5..0.65), rng.random_range(0.03..0.08), rng.random_range(0.6..0.68), rng.random_range(0.42..0.55)),
            2 => (rng.random_range(0.7..0.85), rng.random_range(0.03..0.07), rng.random_range(0.65..0.72), rng.random_range(0.5..0.62)),
            3 => (rng.random_range(0.65..0.8), rng.random_range(0.38..0.45), rng.random_range(0.66..0.72), rng.random_range(0.45..0.55)),
            _ => (rng.random_range(0.4..0.5), rng.random_range(0.25..0.35), rng.random_range(0.6..0.68), rng.random_range(0.28..0.36)),
        };
        let paint = if rng.random_bool(0.3) {
            let v = [0.12, 0.55, 0.8, 0.92][rng.random_range(0..4)];
            [v, v, v]
        } else {
            hsv(rng.random_range(0.0..360.0), rng.random_range(0.45..0.95), rng.random_range(0.45..0.95))
        };
        CarModel {
            length,
            width,
            body_height,
            wheel_radius: rng.random_range(0.3..0.4) + if style == 2 { 0.05 } else { 0.0 },
            hood_drop: rng.random_range(0.05..0.2),
            cabin_start,
            cabin_end,
            cabin_height,
            rake_front: rng.random_range(0.35..0.7),
            rake_rear: rng.random_range(0.1..0.45) * if style == 2 { 0.3 } else { 1.0 },
            paint,
        }
    }

    /// The triangle mesh, centred on the origin at mid-height.
    pub fn mesh(&self) -> Vec<Triangle> {
        let (l, w, r) = (self.length, self.width, self.wheel_radius);
        let bottom = r * 0.6;
        let top = bottom + self.body_height;
        let x = |frac: f64| -l / 2.0 + frac * l;
        let mut tris = Vec::new();
        // Body: a convex side profile, bevelled at the bumpers and dropping to the hood.
        let body = [
            (x(0.0), bottom + 0.08),
            (x(0.03), bottom),
            (x(0.97), bottom),
            (x(1.0), bottom + 0.1),
            (x(1.0), top - self.hood_drop - 0.08),
            (x(0.93), top - self.hood_drop),
            (x(0.04), top),
            (x(0.0), top - 0.1),
        ];
        extrude(&mut tris, &body, -w / 2.0, w / 2.0, self.paint);
        // Cabin: glass trapezoid, slightly narrower than the body, with a painted roof.
        let (c0, c1) = (x(self.cabin_start), x(self.cabin_end));
        let ch = self.cabin_height;
        let glass = [0.16, 0.2, 0.26];
        let cabin = [(c0, top), (c1, top), (c1 - self.rake_front, top + ch), (c0 + self.rake_rear, top + ch)];
        extrude(&mut tris, &cabin, -w * 0.42, w * 0.42, glass);
        let roof = [
            (c0 + self.rake_rear - 0.02, top + ch),
            (c1 - self.rake_front + 0.02, top + ch),
            (c1 - self.rake_front, top + ch + 0.05),
            (c0 + self.rake_rear, top + ch + 0.05),
        ];
        extrude(&mut tris, &roof, -w * 0.43, w * 0.43, self.paint);
        // Wheels with hubcaps, poking out of the body sides.
        let tyre = [0.08, 0.08, 0.09];
        let hub = [0.7, 0.7, 0.72];
        for &wx in &[x(0.2), x(0.8)] {
            for side in [-1.0, 1.0] {
                let outer = side * (w / 2.0 + 0.03);
                let inner = side * (w / 2.0 - 0.25);
                extrude(&mut tris, &circle(wx, r, r, 16), inner.min(outer), inner.max(outer), tyre);
                let cap = side * (w / 2.0 + 0.035);
                extrude(&mut tris, &circle(wx, r, r * 0.55, 12), cap.min(outer), cap.max(outer), hub);
            }
        }
        // Centre at mid-height so the turntable rotates the car in place.
        let mid = (top + ch) / 2.0;
        for t in &mut tris {
            for v in &mut t.v {
                v[1] -= mid;
            }
        }
        tris
    }
}

fn hsv(h: f64, s: f64, v: f64) -> Vec3 {
    let c = v * s;
    let hp = h / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [r + m, g + m, b + m]
}

fn circle(cx: f64, cy: f64, radius: f64, segments: usize) -> Vec<(f64, f64)> {
    (0..segments)
        .map(|k| {
            let a = 2.0 * std::f64::consts::PI * k as f64 / segments as f64;
            (cx + radius * a.cos(), cy + radius * a.sin())
        })
        .collect()
}

/// Extrudes a convex (x, y) polygon between z0 and z1: two fan-triangulated caps and a
/// quad per edge.
fn extrude(out: &mut Vec<Triangle>, poly: &[(f64, f64)], z0: f64, z1: f64, color: Vec3) {
    let p = |i: usize, z: f64| -> Vec3 { [poly[i].0, poly[i].1, z] };
    for z in [z0, z1] {
        for i in 1..poly.len() - 1 {
            out.push(Triangle { v: [p(0, z), p(i, z), p(i + 1, z)], color });
        }
    }
    for i in 0..poly.len() {
        let j = (i + 1) % poly.len();
        out.push(Triangle { v: [p(i, z0), p(j, z0), p(j, z1)], color });
        out.push(Triangle { v: [p(i, z0), p(j, z1), p(i, z1)], color });
    }
}

/// One 128×128 view of a mesh: RGB (HWC) and mask.
pub fn render_view(mesh: &[Triangle], azimuth_deg: f64, elevation_deg: f64) -> crate::render3d::Rendering {
    let az = azimuth_deg.rem_euclid(360.0).to_radians();
    let el = elevation_deg.to_radians();
    // Turntable: rotate the car by the azimuth, keep the camera and light fixed.
    let (s, c) = az.sin_cos();
    let rotated: Vec<Triangle> = mesh
        .iter()
        .map(|t| Triangle { v: t.v.map(|v| [c * v[0] + s * v[2], v[1], -s * v[0] + c * v[2]]), color: t.color })
        .collect();
    let dist = 10.5;
    let cam = Camera {
        eye: [0.0, dist * el.sin(), dist * el.cos()],
        target: [0.0; 3],
        up: [0.0, 1.0, 0.0],
        fov_y: 30.0,
        width: SOURCE_SIZE,
        height: SOURCE_SIZE,
    };
    render(&rotated, &cam, [-0.4, 0.6, 0.7], [255, 255, 255])
}

/// The official `im` (128, 128, 3, 24, 4) and `mask` (128, 128, 24, 4) arrays of one model,
/// column-major.
pub fn model_arrays(model: &CarModel) -> (Vec<u8>, Vec<u8>) {
    let s = SOURCE_SIZE;
    let mesh = model.mesh();
    let mut im = vec![0u8; s * s * 3 * AZIMUTHS * ELEVATIONS];
    let mut mask = vec![0u8; s * s * AZIMUTHS * ELEVATIONS];
    for (e, &elev) in ELEVATION_DEGREES.iter().enumerate() {
        for a in 0..AZIMUTHS {
            let view = render_view(&mesh, a as f64 * 360.0 / AZIMUTHS as f64, elev);
            let v = a + AZIMUTHS * e;
            for y in 0..s {
                for x in 0..s {
                    for c in 0..3 {
                        im[y + s * (x + s * (c + 3 * v))] = view.rgb[3 * (y * s + x) + c];
                    }
                    mask[y + s * (x + s * v)] = view.mask[y * s + x];
                }
            }
        }
    }
    (im, mask)
}

fn check_models(n: usize) -> Result<()> {
    if n == 0 || n > 100_000 {
        return Err(DataError::InvalidParameter { name: "models", message: format!("{n}: need 1 … 100000 models") });
    }
    Ok(())
}

/// Renders the procedural Cars3D dataset in memory (the embedded default `cars3d`).
pub fn generate_cars3d(models: usize, seed: u64) -> Result<Cars3d> {
    check_models(models)?;
    let per_model: Vec<Vec<u8>> = (0..models)
        .into_par_iter()
        .map(|o| downsample_views(&model_arrays(&CarModel::generate(seed, o)).0))
        .collect();
    let names = (0..models).map(model_name).collect();
    Cars3d::from_models(
        "cars3d",
        format!("procedural ({models} models, seed {seed}, rendered on load)"),
        names,
        interleave_models(&per_model),
    )
}

pub fn model_name(o: usize) -> String {
    format!("car_{:03}_mesh", o + 1)
}

/// Writes one MAT-file per model in the official layout (`im`, `mask`; compressed) and a
/// `list.txt` naming them in object order.
pub fn write_cars3d_dir(dir: &Path, models: usize, seed: u64) -> Result<()> {
    check_models(models)?;
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let s = SOURCE_SIZE;
    (0..models).into_par_iter().try_for_each(|o| {
        let (im, mask) = model_arrays(&CarModel::generate(seed, o));
        mat::write_mat(
            &dir.join(format!("{}.mat", model_name(o))),
            &[
                MatVar { name: "im", dims: &[s, s, 3, AZIMUTHS, ELEVATIONS], data: &im, compressed: true },
                MatVar { name: "mask", dims: &[s, s, AZIMUTHS, ELEVATIONS], data: &mask, compressed: true },
            ],
        )
    })?;
    let list: String = (0..models).map(|o| format!("{}.mat\n", model_name(o))).collect();
    let path = dir.join("list.txt");
    crate::atomic::write_atomic(&path, list.as_bytes()).map_err(|e| DataError::io(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azimuth_zero_and_360_are_the_same_view() {
        let mesh = CarModel::generate(0, 3).mesh();
        for elev in ELEVATION_DEGREES {
            assert_eq!(render_view(&mesh, 0.0, elev).rgb, render_view(&mesh, 360.0, elev).rgb);
        }
        // …while 15° is a different view.
        assert_ne!(render_view(&mesh, 0.0, 10.0).rgb, render_view(&mesh, 15.0, 10.0).rgb);
    }

    #[test]
    fn different_models_differ() {
        let views: Vec<Vec<u8>> = (0..6).map(|o| render_view(&CarModel::generate(0, o).mesh(), 30.0, 20.0).rgb).collect();
        for a in 0..views.len() {
            for b in a + 1..views.len() {
                let diff = views[a].iter().zip(&views[b]).filter(|(x, y)| x != y).count();
                assert!(diff > 500, "models {a} and {b} differ in only {diff} channels");
            }
        }
        // Same seed and index → same model; a different seed → a different family.
        assert_eq!(CarModel::generate(0, 2), CarModel::generate(0, 2));
        assert_ne!(CarModel::generate(0, 2), CarModel::generate(1, 2));
    }

    #[test]
    fn car_is_centred_and_framed() {
        for o in 0..8 {
            let mesh = CarModel::generate(0, o).mesh();
            for (az, el) in [(0.0, 0.0), (90.0, 30.0), (45.0, 10.0)] {
                let v = render_view(&mesh, az, el);
                let n = SOURCE_SIZE;
                let covered: usize = v.mask.iter().map(|&m| m as usize).sum();
                // The car fills a sizeable part of the frame but never touches the border.
                assert!(covered > n * n / 20, "model {o} az {az}: {covered} px");
                for i in 0..n {
                    for p in [i, (n - 1) * n + i, i * n, i * n + n - 1] {
                        assert_eq!(v.mask[p], 0, "model {o} az {az} el {el} touches the border");
                    }
                }
            }
        }
    }
}
