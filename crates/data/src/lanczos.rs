//! Separable Lanczos-3 downscaling of grey images with weights computed once per size pair
//! (the generic `image::imageops::resize` recomputes them for every image and took 1.6 ms
//! per 96×96 SmallNORB image; this takes a few microseconds). The filter is stretched by the
//! scale factor so that it low-passes, as PIL's `ANTIALIAS` (the reference's choice) does.

/// Weights of one output sample: the first input index and the normalized taps.
#[derive(Debug, Clone)]
struct Taps {
    first: usize,
    weights: Vec<f32>,
}

fn lanczos3(x: f64) -> f64 {
    let sinc = |t: f64| if t == 0.0 { 1.0 } else { (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t) };
    if x.abs() < 3.0 { sinc(x) * sinc(x / 3.0) } else { 0.0 }
}

fn taps(src: usize, dst: usize) -> Vec<Taps> {
    let scale = src as f64 / dst as f64;
    let stretch = scale.max(1.0);
    let support = 3.0 * stretch;
    (0..dst)
        .map(|i| {
            let centre = (i as f64 + 0.5) * scale;
            let first = (centre - support).floor().max(0.0) as usize;
            let last = ((centre + support).ceil() as usize).min(src);
            let raw: Vec<f64> = (first..last).map(|j| lanczos3((j as f64 + 0.5 - centre) / stretch)).collect();
            let sum: f64 = raw.iter().sum();
            Taps { first, weights: raw.iter().map(|w| (w / sum) as f32).collect() }
        })
        .collect()
}

/// A resampler from `sw`×`sh` to `dw`×`dh` grey images (row-major bytes).
#[derive(Debug, Clone)]
pub struct LanczosResize {
    sw: usize,
    sh: usize,
    dw: usize,
    dh: usize,
    columns: Vec<Taps>,
    rows: Vec<Taps>,
}

impl LanczosResize {
    pub fn new(sw: usize, sh: usize, dw: usize, dh: usize) -> Self {
        LanczosResize { sw, sh, dw, dh, columns: taps(sw, dw), rows: taps(sh, dh) }
    }

    /// Resizes `src` (sw·sh bytes) into `out` (dw·dh bytes), rounding to the nearest byte.
    pub fn apply(&self, src: &[u8], out: &mut [u8]) {
        assert_eq!((src.len(), out.len()), (self.sw * self.sh, self.dw * self.dh));
        // Columns first: sh rows of dw samples.
        let mut mid = vec![0f32; self.sh * self.dw];
        for y in 0..self.sh {
            let row = &src[y * self.sw..(y + 1) * self.sw];
            for (x, t) in self.columns.iter().enumerate() {
                mid[y * self.dw + x] = t.weights.iter().zip(&row[t.first..]).map(|(w, &v)| w * v as f32).sum();
            }
        }
        for (y, t) in self.rows.iter().enumerate() {
            for x in 0..self.dw {
                let v: f32 = t.weights.iter().enumerate().map(|(k, w)| w * mid[(t.first + k) * self.dw + x]).sum();
                out[y * self.dw + x] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_stay_and_edges_stay_put() {
        let r = LanczosResize::new(96, 96, 64, 64);
        let mut out = vec![0u8; 64 * 64];
        r.apply(&vec![200u8; 96 * 96], &mut out);
        assert!(out.iter().all(|&v| v == 200));
        // Left half black, right half white: the edge lands in the middle, with the
        // Lanczos ringing bounded.
        let src: Vec<u8> = (0..96 * 96).map(|i| if i % 96 < 48 { 0 } else { 255 }).collect();
        r.apply(&src, &mut out);
        let row = &out[10 * 64..11 * 64];
        assert!(row[..28].iter().all(|&v| v <= 12) && row[36..].iter().all(|&v| v >= 243), "{row:?}");
        assert!(row[31] < 128 && row[32] > 128, "{row:?}");
        // Symmetric: a mirrored image gives the mirrored result.
        let mirrored: Vec<u8> = (0..96 * 96).map(|i| src[(i / 96) * 96 + 95 - i % 96]).collect();
        let mut out2 = vec![0u8; 64 * 64];
        r.apply(&mirrored, &mut out2);
        for x in 0..64 {
            assert_eq!(out2[10 * 64 + x], out[10 * 64 + 63 - x], "x {x}");
        }
    }

    #[test]
    fn agrees_with_the_image_crate_within_rounding() {
        // The image crate's Lanczos3 on a smooth pattern: the same filter family and scale.
        let src: Vec<u8> = (0..96 * 96).map(|i| (128.0 + 100.0 * ((i % 96) as f64 / 9.0).sin() * ((i / 96) as f64 / 13.0).cos()) as u8).collect();
        let mut ours = vec![0u8; 64 * 64];
        LanczosResize::new(96, 96, 64, 64).apply(&src, &mut ours);
        let img = image::GrayImage::from_raw(96, 96, src).unwrap();
        let theirs = image::imageops::resize(&img, 64, 64, image::imageops::FilterType::Lanczos3).into_raw();
        let worst = ours.iter().zip(&theirs).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        assert!(worst <= 2, "worst difference {worst}");
    }
}
