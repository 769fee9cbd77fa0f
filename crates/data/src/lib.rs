//! Ground-truth factor datasets for disentanglement research: dSprites (and its Color, Noisy and
//! Scream variants), Cars3D, Shapes3D, SmallNORB and MPI3D, from the official files or (dSprites, Cars3D, Shapes3D) from built-in procedural generators, behind one `FactorDataset`
//! trait. No deep-learning dependency: anything that can fill an `f32` buffer can train.

pub mod atomic;
pub mod binary_images;
pub mod cars3d_official;
pub mod cars3d_procedural;
pub mod color_dsprites;
pub mod dsprites_official;
pub mod dsprites_procedural;
pub mod dsprites_variants;
pub mod error;
pub mod factors;
#[cfg(feature = "hdf5")]
pub mod hdf5_images;
pub mod image_file;
pub mod lanczos;
pub mod mat;
pub mod mpi3d;
pub mod noisy_dsprites;
pub mod npy;
pub mod registry;
pub mod render3d;
pub mod scream_dsprites;
pub mod shapes3d_official;
pub mod shapes3d_procedural;
pub mod smallnorb;
pub mod sparse_fixtures;

pub use dsprites_official::DSpritesOfficial;
pub use dsprites_procedural::{DSpritesGrid, DSpritesProcedural};
pub use error::{DataError, Result};
pub use factors::{FactorDataset, FactorSpace, batch_seeded_rng};
pub use cars3d_official::Cars3d;
pub use cars3d_procedural::{generate_cars3d, write_cars3d_dir};
pub use mpi3d::{Mpi3d, Mpi3dVariant};
pub use shapes3d_official::Shapes3d;
pub use smallnorb::SmallNorb;
pub use shapes3d_procedural::{Shapes3dProcedural, write_shapes3d_npz};
pub use registry::{
    DATA_DIR_ENV, DATASET_NAMES, data_dir, dataset_channels, dataset_spec_to_store, open_dataset, open_recorded_dataset,
};
