//! Shapes3D (Burgess & Kim 2018) from disentanglement_lib's file layout: an `.npz` with
//! `images` (N×64×64×3 uint8) and `labels` (N×6: floor hue, wall hue, object hue, scale,
//! shape, orientation), rows in row-major factor order (the last factor fastest). The
//! official release has N = 480,000 on the grid 10×10×10×8×4×15.
//!
//! The grid is read from the labels, not assumed: each factor's classes are the values it
//! takes along the row-major order, and every row is checked against them, so a file whose
//! rows are shuffled is an error instead of a silently wrong index. Images stay on disk and
//! are read one by one ([`U8ImageFile`]): resident memory is the labels' grid, a few bytes.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::factors::{FactorDataset, FactorSpace};
use crate::image_file::{ImageStore, U8ImageFile};
use crate::npy::{NpzArray, read_npz_array};
use crate::shapes3d_procedural::FACTOR_NAMES;

/// disentanglement_lib's file name, under `DATA_DIR/3dshapes/`.
pub const SHAPES3D_FILE_NAME: &str = "look-at-object-room_floor-hueXwall-hueXobj-hueXobj-sizeXobj-shapeXview-azi.npz";
pub const SHAPES3D_DOWNLOAD: &str = "https://storage.googleapis.com/3d-shapes/3dshapes.h5 (or disentanglement_lib's conversion of it, 3dshapes/look-at-object-room_floor-hueXwall-hueXobj-hueXobj-sizeXobj-shapeXview-azi.npz)";

pub struct Shapes3d {
    name: String,
    path: PathBuf,
    space: FactorSpace,
    /// Label value of each class of each factor.
    values: Vec<Vec<f64>>,
    images: Box<dyn ImageStore>,
}

/// The factor grid that `labels` (n×K, row-major rows) spells out, or the first row that
/// breaks it.
pub fn grid_from_labels(labels: &[f64], n: usize, k: usize) -> std::result::Result<(Vec<usize>, Vec<Vec<f64>>), String> {
    // Sizes, innermost factor first: factor j's stride is the product of the later sizes,
    // and its size is how many distinct values it takes before its first repeat at that stride.
    let mut sizes = vec![0usize; k];
    let mut stride = 1usize;
    for j in (0..k).rev() {
        let first = labels[j];
        let mut size = 1;
        while size * stride < n && labels[size * stride * k + j] != first {
            size += 1;
        }
        sizes[j] = size;
        stride = stride.saturating_mul(size);
    }
    if stride != n {
        return Err(format!("the labels' factor grid {sizes:?} has {stride} combinations, but there are {n} rows"));
    }
    let mut strides = vec![1usize; k];
    for j in (0..k.saturating_sub(1)).rev() {
        strides[j] = strides[j + 1] * sizes[j + 1];
    }
    let values: Vec<Vec<f64>> = (0..k).map(|j| (0..sizes[j]).map(|c| labels[c * strides[j] * k + j]).collect()).collect();
    for i in 0..n {
        for j in 0..k {
            let c = i / strides[j] % sizes[j];
            let v = labels[i * k + j];
            if v != values[j][c] {
                return Err(format!("row {i}: label {j} is {v}, but the row-major factor order implies {} (rows must be in disentanglement_lib's order)", values[j][c]));
            }
        }
    }
    Ok((sizes, values))
}

impl Shapes3d {
    /// Loads DeepMind's `3dshapes.h5` (`.h5`/`.hdf5`, with the `hdf5` feature) or
    /// disentanglement_lib's `.npz` layout (anything else).
    pub fn load(path: &Path) -> Result<Self> {
        if path.extension().is_some_and(|e| e == "h5" || e == "hdf5") {
            return Self::load_h5(path);
        }
        Self::load_npz(path)
    }

    #[cfg(feature = "hdf5")]
    fn load_h5(path: &Path) -> Result<Self> {
        let fmt = |m: String| DataError::format(path, m);
        let file = crate::hdf5_images::open_file(path)?;
        let (labels, shape) = crate::hdf5_images::read_f64(&file, path, "labels")?;
        if shape.len() != 2 || shape[1] != FACTOR_NAMES.len() || shape[0] == 0 {
            return Err(fmt(format!("dataset `labels` has shape {shape:?}, expected (N, 6)")));
        }
        let images = crate::hdf5_images::open_images(&file, path, "images", [64, 64, 3])?;
        Self::from_parts(path, labels, shape[0], images)
    }

    #[cfg(not(feature = "hdf5"))]
    fn load_h5(path: &Path) -> Result<Self> {
        Err(DataError::format(
            path,
            "this build cannot read HDF5 (it was built without the `hdf5` feature); rebuild with default features, or convert to \
             disentanglement_lib's npz layout: python3 -c \"import h5py, numpy as n; f = h5py.File('3dshapes.h5', 'r'); n.savez('OUT.npz', images=f['images'][:], labels=f['labels'][:])\"",
        ))
    }

    fn load_npz(path: &Path) -> Result<Self> {
        let fmt = |m: String| DataError::format(path, m);
        let labels = match read_npz_array(path, "labels")? {
            NpzArray::Float { shape, data } => (shape, data),
            NpzArray::Int { shape, data } => (shape, data.into_iter().map(|v| v as f64).collect()),
        };
        let (shape, labels) = labels;
        if shape.len() != 2 || shape[1] != FACTOR_NAMES.len() {
            return Err(fmt(format!("array `labels` has shape {shape:?}, expected (N, 6)")));
        }
        let n = shape[0];
        if n == 0 {
            return Err(fmt("array `labels` has no rows".into()));
        }
        let images = Box::new(U8ImageFile::open_npz_member(path, "images", [64, 64, 3])?);
        Self::from_parts(path, labels, n, images)
    }

    fn from_parts(path: &Path, labels: Vec<f64>, n: usize, images: Box<dyn ImageStore>) -> Result<Self> {
        let fmt = |m: String| DataError::format(path, m);
        let (sizes, values) = grid_from_labels(&labels, n, 6).map_err(|m| fmt(format!("labels: {m}")))?;
        if images.len() != n {
            return Err(fmt(format!("{} images but {n} label rows", images.len())));
        }
        Ok(Shapes3d {
            name: "shapes3d-official".into(),
            path: path.to_path_buf(),
            space: FactorSpace::new(&FACTOR_NAMES, &sizes)?,
            values,
            images,
        })
    }

    /// The label value of each class of each factor, as the file gives them.
    pub fn values(&self) -> &[Vec<f64>] {
        &self.values
    }
}

impl FactorDataset for Shapes3d {
    fn name(&self) -> &str {
        &self.name
    }
    fn source(&self) -> String {
        self.images.source_of(&self.path)
    }
    fn factors(&self) -> &FactorSpace {
        &self.space
    }
    fn observation_shape(&self) -> [usize; 3] {
        [3, 64, 64]
    }
    fn resident_bytes(&self) -> usize {
        self.values.iter().map(|v| v.len() * 8).sum()
    }
    fn write_observations(&self, factors: &[usize], out: &mut [f32]) -> Result<()> {
        self.images.write_grid_observations(&self.space, factors, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_read_from_row_major_labels() {
        // 2 × 3 × 2 grid with arbitrary values.
        let (a, b, c) = ([0.5, 0.7], [-1.0, 0.0, 1.0], [10.0, 20.0]);
        let mut labels = Vec::new();
        for x in a {
            for y in b {
                for z in c {
                    labels.extend([x, y, z]);
                }
            }
        }
        let (sizes, values) = grid_from_labels(&labels, 12, 3).unwrap();
        assert_eq!(sizes, vec![2, 3, 2]);
        assert_eq!(values, vec![a.to_vec(), b.to_vec(), c.to_vec()]);
        // Two rows swapped: named.
        let mut swapped = labels.clone();
        for j in 0..3 {
            swapped.swap(4 * 3 + j, 5 * 3 + j);
        }
        let err = grid_from_labels(&swapped, 12, 3).unwrap_err();
        assert!(err.starts_with("row 4:"), "{err}");
        // A row missing.
        assert!(grid_from_labels(&labels[..33], 11, 3).unwrap_err().contains("12 combinations, but there are 11 rows"));
    }
}
