//! Ground-truth factor datasets for disentanglement research: dSprites and Cars3D, from
//! the official files or from built-in procedural generators, behind one `FactorDataset`
//! trait. No deep-learning dependency: anything that can fill an `f32` buffer can train.

pub mod binary_images;
pub mod cars3d_official;
pub mod cars3d_procedural;
pub mod dsprites_official;
pub mod dsprites_procedural;
pub mod error;
pub mod factors;
pub mod mat;
pub mod npy;
pub mod registry;
pub mod render3d;

pub use dsprites_official::DSpritesOfficial;
pub use dsprites_procedural::{DSpritesGrid, DSpritesProcedural};
pub use error::{DataError, Result};
pub use factors::{FactorDataset, FactorSpace};
pub use cars3d_official::Cars3d;
pub use cars3d_procedural::{generate_cars3d, write_cars3d_dir};
pub use registry::{
    DATA_DIR_ENV, DATASET_NAMES, data_dir, dataset_channels, dataset_spec_to_store, open_dataset, open_recorded_dataset,
};
