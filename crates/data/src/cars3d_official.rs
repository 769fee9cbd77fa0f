//! Cars3D (Reed et al. 2015) from the official release: a folder of level-5 MAT-files, one
//! per car model, each holding `im`, uint8 (128, 128, 3, 24, 4) = height, width, RGB,
//! azimuth, elevation (column-major). Images are resized to 64×64 with a Lanczos
//! (antialiasing) filter, as in the reference preprocessing. Object ids follow `list.txt`
//! when present, else sorted file names — never the filesystem's listing order.

use std::path::{Path, PathBuf};

use image::{RgbImage, imageops};
use rayon::prelude::*;

use crate::error::{DataError, Result};
use crate::factors::{FactorDataset, FactorSpace, check_output};
use crate::mat;

pub const CARS3D_DOWNLOAD: &str = "the archive nips2015-analogy-data.tar.gz (Reed et al. 2015, \"Deep Visual Analogy-Making\"); unpack its data/cars/ folder";
pub const ELEVATIONS: usize = 4;
pub const AZIMUTHS: usize = 24;
/// Side of the stored (official) images and of the resized observations.
pub const SOURCE_SIZE: usize = 128;
pub const SIZE: usize = 64;
const IMAGE_BYTES: usize = 3 * SIZE * SIZE;

/// Cars3D observations in memory: 64×64 RGB, u8, CHW per image, ordered by the flat index
/// of the factors [elevation, azimuth, object].
pub struct Cars3d {
    name: String,
    source: String,
    space: FactorSpace,
    images: Vec<u8>,
    object_names: Vec<String>,
}

impl Cars3d {
    /// Builds the dataset from per-model view grids: `views[o]` holds the 128×128×3×24×4
    /// column-major `im` array of model o (as stored in the MAT-files).
    pub(crate) fn from_models(name: &str, source: String, object_names: Vec<String>, images: Vec<u8>) -> Result<Self> {
        let n = object_names.len();
        let space = FactorSpace::new(&["elevation", "azimuth", "object"], &[ELEVATIONS, AZIMUTHS, n])?;
        debug_assert_eq!(images.len(), space.len() * IMAGE_BYTES);
        Ok(Cars3d { name: name.into(), source, space, images, object_names })
    }

    /// Loads a folder of official MAT-files.
    pub fn load_dir(dir: &Path) -> Result<Self> {
        let files = model_files(dir)?;
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_stem().unwrap_or_default().to_string_lossy().into_owned())
            .collect();
        let per_model: Vec<Vec<u8>> = files
            .par_iter()
            .map(|f| {
                let im = mat::read_mat_u8(f, "im")?;
                let want = [SOURCE_SIZE, SOURCE_SIZE, 3, AZIMUTHS, ELEVATIONS];
                if im.dims != want {
                    return Err(DataError::format(
                        f,
                        format!("`im` has dimensions {:?}, expected {want:?} (height, width, RGB, azimuth, elevation)", im.dims),
                    ));
                }
                Ok(downsample_views(im.data.as_deref().expect("uint8 data checked by read_mat_u8")))
            })
            .collect::<Result<_>>()?;
        let images = interleave_models(&per_model);
        Self::from_models("cars3d-official", dir.display().to_string(), names, images)
    }

    pub fn object_names(&self) -> &[String] {
        &self.object_names
    }

    /// The stored 64×64 RGB image (CHW bytes) at flat index i.
    pub fn image_u8(&self, index: usize) -> &[u8] {
        &self.images[index * IMAGE_BYTES..(index + 1) * IMAGE_BYTES]
    }
}

/// The model files of a Cars3D folder in object-id order.
pub fn model_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let list = dir.join("list.txt");
    let files: Vec<PathBuf> = if list.is_file() {
        let text = std::fs::read_to_string(&list).map_err(|e| DataError::io(&list, e))?;
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let p = dir.join(l);
                if p.extension().is_some_and(|e| e == "mat") { p } else { dir.join(format!("{l}.mat")) }
            })
            .collect()
    } else {
        let rd = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
        let mut v = Vec::new();
        for entry in rd {
            let p = entry.map_err(|e| DataError::io(dir, e))?.path();
            if p.extension().is_some_and(|e| e == "mat") {
                v.push(p);
            }
        }
        v.sort();
        v
    };
    if files.is_empty() {
        return Err(DataError::format(dir, "no .mat files (and no list.txt naming any)"));
    }
    if let Some(missing) = files.iter().find(|f| !f.is_file()) {
        return Err(DataError::format(&list, format!("names {}, which does not exist", missing.display())));
    }
    Ok(files)
}

/// Resizes every view of one model's column-major (128, 128, 3, 24, 4) array to 64×64 with
/// a Lanczos-3 filter. Returns [elevation][azimuth] CHW u8 images.
pub(crate) fn downsample_views(im: &[u8]) -> Vec<u8> {
    let s = SOURCE_SIZE;
    let mut out = Vec::with_capacity(ELEVATIONS * AZIMUTHS * IMAGE_BYTES);
    for e in 0..ELEVATIONS {
        for a in 0..AZIMUTHS {
            let base = (e * AZIMUTHS + a) * 3 * s * s;
            // Column-major: index = h + s·(w + s·c) within the view.
            let img = RgbImage::from_fn(s as u32, s as u32, |x, y| {
                let p = |c: usize| im[base + y as usize + s * (x as usize + s * c)];
                image::Rgb([p(0), p(1), p(2)])
            });
            let small = imageops::resize(&img, SIZE as u32, SIZE as u32, imageops::FilterType::Lanczos3);
            for c in 0..3 {
                out.extend(small.pixels().map(|px| px.0[c]));
            }
        }
    }
    out
}

/// Orders per-model [elevation][azimuth] images by the flat index of
/// [elevation, azimuth, object] (object fastest).
pub(crate) fn interleave_models(per_model: &[Vec<u8>]) -> Vec<u8> {
    let n = per_model.len();
    let mut images = vec![0u8; ELEVATIONS * AZIMUTHS * n * IMAGE_BYTES];
    for (o, views) in per_model.iter().enumerate() {
        for v in 0..ELEVATIONS * AZIMUTHS {
            let dst = (v * n + o) * IMAGE_BYTES;
            images[dst..dst + IMAGE_BYTES].copy_from_slice(&views[v * IMAGE_BYTES..(v + 1) * IMAGE_BYTES]);
        }
    }
    images
}

impl FactorDataset for Cars3d {
    fn name(&self) -> &str {
        &self.name
    }
    fn source(&self) -> String {
        self.source.clone()
    }
    fn factors(&self) -> &FactorSpace {
        &self.space
    }
    fn observation_shape(&self) -> [usize; 3] {
        [3, SIZE, SIZE]
    }
    fn resident_bytes(&self) -> usize {
        self.images.len()
    }
    fn write_observations(&self, factors: &[usize], out: &mut [f32]) -> Result<()> {
        check_output(&self.space, IMAGE_BYTES, factors, out)?;
        for (row, o) in factors.chunks_exact(3).zip(out.chunks_exact_mut(IMAGE_BYTES)) {
            let img = self.image_u8(self.space.index_of(row)?);
            for (d, &s) in o.iter_mut().zip(img) {
                *d = s as f32 / 255.0;
            }
        }
        Ok(())
    }
}
