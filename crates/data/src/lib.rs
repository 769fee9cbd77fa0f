//! Ground-truth factor datasets for disentanglement research: dSprites and Cars3D, from
//! the official files or from built-in procedural generators, behind one `FactorDataset`
//! trait. No deep-learning dependency: anything that can fill an `f32` buffer can train.

pub mod binary_images;
pub mod dsprites_official;
pub mod dsprites_procedural;
pub mod error;
pub mod factors;
pub mod npy;

pub use dsprites_official::DSpritesOfficial;
pub use dsprites_procedural::{DSpritesGrid, DSpritesProcedural};
pub use error::{DataError, Result};
pub use factors::{FactorDataset, FactorSpace};
