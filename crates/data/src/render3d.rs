//! A small software renderer for the procedural Cars3D models: triangles, a perspective
//! camera, a z-buffer, and flat Lambert shading with a light fixed relative to the camera
//! (a turntable under studio lights). Pixel centres are sampled once; antialiasing comes
//! from the Lanczos downsampling to 64×64 that every Cars3D image goes through.

pub type Vec3 = [f64; 3];

pub fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
pub fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
pub fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}
pub fn normalize(a: Vec3) -> Vec3 {
    let n = dot(a, a).sqrt();
    if n == 0.0 { a } else { [a[0] / n, a[1] / n, a[2] / n] }
}

#[derive(Debug, Clone, Copy)]
pub struct Triangle {
    pub v: [Vec3; 3],
    /// Linear RGB albedo in [0, 1].
    pub color: Vec3,
}

/// A perspective pinhole camera.
#[derive(Debug, Clone, Copy)]
pub struct Camera {
    pub eye: Vec3,
    pub target: Vec3,
    pub up: Vec3,
    /// Vertical field of view in degrees.
    pub fov_y: f64,
    pub width: usize,
    pub height: usize,
}

/// A rendered RGB image (row-major, HWC) and its coverage mask (1 where a triangle is visible).
pub struct Rendering {
    pub rgb: Vec<u8>,
    pub mask: Vec<u8>,
}

/// What the camera sees at each pixel centre: the index of the nearest triangle (or
/// [`Fragments::NONE`]) and its flat Lambert shade (ambient 0.35 + 0.65 cos θ).
pub struct Fragments {
    pub triangle: Vec<u32>,
    pub shade: Vec<f64>,
}

impl Fragments {
    pub const NONE: u32 = u32::MAX;
}

/// Renders `tris` on a `background` colour. `light` points from the scene towards the
/// light, in camera coordinates (x right, y up, z towards the viewer).
pub fn render(tris: &[Triangle], cam: &Camera, light: Vec3, background: [u8; 3]) -> Rendering {
    let frags = rasterize(tris, cam, light);
    let mut rgb = Vec::with_capacity(frags.triangle.len() * 3);
    let mut mask = Vec::with_capacity(frags.triangle.len());
    for (&t, &shade) in frags.triangle.iter().zip(&frags.shade) {
        if t == Fragments::NONE {
            rgb.extend_from_slice(&background);
            mask.push(0);
        } else {
            let c = tris[t as usize].color;
            rgb.extend((0..3).map(|k| (c[k] * shade * 255.0).round().clamp(0.0, 255.0) as u8));
            mask.push(1);
        }
    }
    Rendering { rgb, mask }
}

/// The z-buffered visibility of `tris` (see [`render`] for the conventions).
pub fn rasterize(tris: &[Triangle], cam: &Camera, light: Vec3) -> Fragments {
    let (w, h) = (cam.width, cam.height);
    let f = normalize(sub(cam.target, cam.eye));
    let r = normalize(cross(f, cam.up));
    let u = cross(r, f);
    let focal = (h as f64 / 2.0) / (cam.fov_y.to_radians() / 2.0).tan();
    // Light direction in world coordinates.
    let l = normalize([
        light[0] * r[0] + light[1] * u[0] - light[2] * f[0],
        light[0] * r[1] + light[1] * u[1] - light[2] * f[1],
        light[0] * r[2] + light[1] * u[2] - light[2] * f[2],
    ]);
    const NEAR: f64 = 1e-3;

    let mut triangle = vec![Fragments::NONE; w * h];
    let mut shades = vec![0.0f64; w * h];
    let mut inv_depth = vec![0.0f64; w * h]; // 1/z of the closest surface; 0 = nothing

    for (ti, t) in tris.iter().enumerate() {
        // Camera-space depth and screen position of each vertex.
        let mut sx = [0.0; 3];
        let mut sy = [0.0; 3];
        let mut iz = [0.0; 3];
        let mut behind = false;
        for k in 0..3 {
            let d = sub(t.v[k], cam.eye);
            let z = dot(d, f);
            if z < NEAR {
                behind = true;
                break;
            }
            sx[k] = w as f64 / 2.0 + dot(d, r) / z * focal;
            sy[k] = h as f64 / 2.0 - dot(d, u) / z * focal;
            iz[k] = 1.0 / z;
        }
        if behind {
            continue; // our scenes keep the camera far from every model
        }
        let area = (sx[1] - sx[0]) * (sy[2] - sy[0]) - (sx[2] - sx[0]) * (sy[1] - sy[0]);
        if area.abs() < 1e-12 {
            continue;
        }
        // Two-sided flat shading: the normal that faces the camera.
        let mut n = normalize(cross(sub(t.v[1], t.v[0]), sub(t.v[2], t.v[0])));
        if dot(n, sub(cam.eye, t.v[0])) < 0.0 {
            n = [-n[0], -n[1], -n[2]];
        }
        let shade = 0.35 + 0.65 * dot(n, l).max(0.0);

        let x0 = sx.iter().cloned().fold(f64::INFINITY, f64::min).floor().max(0.0) as usize;
        let x1 = (sx.iter().cloned().fold(f64::NEG_INFINITY, f64::max).ceil().min(w as f64)).max(0.0) as usize;
        let y0 = sy.iter().cloned().fold(f64::INFINITY, f64::min).floor().max(0.0) as usize;
        let y1 = (sy.iter().cloned().fold(f64::NEG_INFINITY, f64::max).ceil().min(h as f64)).max(0.0) as usize;
        for py in y0..y1 {
            let cy = py as f64 + 0.5;
            for px in x0..x1 {
                let cx = px as f64 + 0.5;
                // Barycentric weights from edge functions, sign-normalised by the area.
                let w0 = ((sx[1] - cx) * (sy[2] - cy) - (sx[2] - cx) * (sy[1] - cy)) / area;
                let w1 = ((sx[2] - cx) * (sy[0] - cy) - (sx[0] - cx) * (sy[2] - cy)) / area;
                let w2 = 1.0 - w0 - w1;
                if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                    continue;
                }
                // 1/z is affine in screen space, so it interpolates exactly.
                let z = w0 * iz[0] + w1 * iz[1] + w2 * iz[2];
                let p = py * w + px;
                if z > inv_depth[p] {
                    inv_depth[p] = z;
                    triangle[p] = ti as u32;
                    shades[p] = shade;
                }
            }
        }
    }
    Fragments { triangle, shade: shades }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cam() -> Camera {
        Camera { eye: [0.0, 0.0, 5.0], target: [0.0; 3], up: [0.0, 1.0, 0.0], fov_y: 45.0, width: 32, height: 32 }
    }

    #[test]
    fn nearer_triangle_wins_regardless_of_order() {
        let red = Triangle { v: [[-1.0, -1.0, 0.0], [1.0, -1.0, 0.0], [0.0, 1.0, 0.0]], color: [1.0, 0.0, 0.0] };
        let mut green = red;
        green.color = [0.0, 1.0, 0.0];
        for v in &mut green.v {
            v[2] = 1.0; // closer to the camera at z = 5
        }
        let light = [0.0, 0.0, 1.0];
        let a = render(&[red, green], &cam(), light, [0; 3]);
        let b = render(&[green, red], &cam(), light, [0; 3]);
        assert_eq!(a.rgb, b.rgb);
        let centre = 3 * (16 * 32 + 16);
        assert_eq!(&a.rgb[centre..centre + 3], &[0, 255, 0]);
        assert_eq!(a.mask[0], 0);
        assert_eq!(a.mask[16 * 32 + 16], 1);
    }

    #[test]
    fn lambert_shading_darkens_oblique_faces() {
        let facing = Triangle { v: [[-1.0, -1.0, 0.0], [1.0, -1.0, 0.0], [0.0, 1.0, 0.0]], color: [1.0; 3] };
        // The same triangle tilted 60° about the y axis.
        let (s, c) = 60f64.to_radians().sin_cos();
        let tilted = Triangle { v: facing.v.map(|p| [p[0] * c, p[1], p[0] * s]), color: [1.0; 3] };
        let light = [0.0, 0.0, 1.0];
        let a = render(&[facing], &cam(), light, [0; 3]);
        let b = render(&[tilted], &cam(), light, [0; 3]);
        let p = 3 * (16 * 32 + 16);
        assert_eq!(a.rgb[p], 255);
        // ambient 0.35 + 0.65·cos 60° = 0.675 → 172
        assert!((b.rgb[p] as i32 - 172).abs() <= 2, "{}", b.rgb[p]);
    }
}
