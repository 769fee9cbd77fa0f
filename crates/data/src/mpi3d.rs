//! MPI3D (Gondal et al. 2019): `mpi3d_toy.npz`, `mpi3d_realistic.npz`, `mpi3d_real.npz`, each
//! with one array `images` (N×64×64×3 uint8) in row-major factor order: object colour,
//! object shape, object size 2, camera height 3, background colour 3, horizontal axis 40,
//! vertical axis 40. The reference study's files have 4 colours × 4 shapes (460,800 images);
//! the later complete releases have 6 × 6 (1,036,800). The image count tells them apart.
//!
//! The files are 5.7 or 12.7 GB: images are read one by one from disk ([`U8ImageFile`]).

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::factors::{FactorDataset, FactorSpace};
use crate::image_file::{ImageStore, U8ImageFile};

pub const FACTOR_NAMES: [&str; 7] = ["object_color", "object_shape", "object_size", "camera_height", "background_color", "horizontal_axis", "vertical_axis"];
pub const MPI3D_DOWNLOAD: &str = "https://github.com/rr-learning/disentanglement_dataset (links to mpi3d_toy.npz, mpi3d_realistic.npz, mpi3d_real.npz)";

/// The three MPI3D variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mpi3dVariant {
    Toy,
    Realistic,
    Real,
}

impl Mpi3dVariant {
    pub const ALL: [Mpi3dVariant; 3] = [Mpi3dVariant::Toy, Mpi3dVariant::Realistic, Mpi3dVariant::Real];
    /// The dataset name (`mpi3d-toy` …).
    pub fn name(self) -> &'static str {
        match self {
            Mpi3dVariant::Toy => "mpi3d-toy",
            Mpi3dVariant::Realistic => "mpi3d-realistic",
            Mpi3dVariant::Real => "mpi3d-real",
        }
    }
    /// disentanglement_lib's location under the data folder.
    pub fn relative_path(self) -> &'static str {
        match self {
            Mpi3dVariant::Toy => "mpi3d_toy/mpi3d_toy.npz",
            Mpi3dVariant::Realistic => "mpi3d_realistic/mpi3d_realistic.npz",
            Mpi3dVariant::Real => "mpi3d_real/mpi3d_real.npz",
        }
    }
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }
}

/// Factor sizes for an image count: 4 × 4 colours and shapes (the reference study's files)
/// or 6 × 6 (the complete releases).
pub fn factor_sizes_for(n: usize) -> Option<[usize; 7]> {
    let rest = 2 * 3 * 3 * 40 * 40;
    [4usize, 6].into_iter().find(|c| c * c * rest == n).map(|c| [c, c, 2, 3, 3, 40, 40])
}

pub struct Mpi3d {
    name: String,
    path: PathBuf,
    space: FactorSpace,
    images: U8ImageFile,
}

impl Mpi3d {
    /// Loads an MPI3D file; `name` is the dataset name to report (`mpi3d-toy` …).
    pub fn load(path: &Path, name: &str) -> Result<Self> {
        let images = U8ImageFile::open_npz_member(path, "images", [64, 64, 3])?;
        let sizes = factor_sizes_for(images.len()).ok_or_else(|| {
            DataError::format(path, format!("array `images` holds {} images; MPI3D files hold 460800 (4 colours × 4 shapes) or 1036800 (6 × 6)", images.len()))
        })?;
        Ok(Mpi3d { name: name.to_string(), path: path.to_path_buf(), space: FactorSpace::new(&FACTOR_NAMES, &sizes)?, images })
    }
}

impl FactorDataset for Mpi3d {
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
        0
    }
    fn write_observations(&self, factors: &[usize], out: &mut [f32]) -> Result<()> {
        self.images.write_grid_observations(&self.space, factors, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_count_decides_the_grid() {
        assert_eq!(factor_sizes_for(460_800), Some([4, 4, 2, 3, 3, 40, 40]));
        assert_eq!(factor_sizes_for(1_036_800), Some([6, 6, 2, 3, 3, 40, 40]));
        assert_eq!(factor_sizes_for(460_799), None);
        assert_eq!(Mpi3dVariant::from_name("mpi3d-real"), Some(Mpi3dVariant::Real));
    }
}
