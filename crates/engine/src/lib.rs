//! disentangle's CPU engine: every model the project trains (conv, conv-k4, split and shared
//! encoders; the decoder; independent and correlated noise; the six objectives; the FactorVAE
//! discriminator), forward and backward, and Adam — on plain f32 buffers.
//!
//! Why a separate engine: burn's CPU backends allocate per operation and run convolutions as
//! direct loops, which made a training step 2–2.4× slower than PyTorch's. Here every conv runs
//! as GEMMs — the stride-2 k4 ones between wide images over their parity planes ([`parity`];
//! for 8 × 8 and 16 × 16 small images through Winograd's F(2×2, 2×2) transforms,
//! [`winograd`]), the rest lowered through im2col/col2im ([`conv`]; the decoder's first
//! transposed conv for groups of samples side by side, its patches moved in registers by
//! [`patches4`]), their products on our own packing-free
//! kernels ([`taps`]: AVX-512 or AVX2; the `gemm` crate on other CPUs) with the weights
//! packed once per layer and step — bias and activation are applied while the output is still
//! in cache, each thread carries its share of the batch sample by sample through a whole stack
//! of conv layers with its own column buffers ([`network`]), and all buffers live in a
//! [`network::Workspace`] allocated once. Which of these kernels run is decided in one place,
//! [`Kernels`], when the network is built.
//!
//! The burn modules of `disentangle-models` remain the reference (and the GPU path):
//! parameters are laid out in burn's visiting order and shapes ([`params`]), the initial
//! weights are the same numbers for the same seed, and Adam follows burn's arithmetic, so
//! checkpoints move between the engines.

pub mod adam;
pub mod conv;
pub mod dense;
pub mod kernels;
pub mod matmul;
pub mod network;
pub mod objective;
pub mod params;
pub mod parity;
pub mod patches4;
pub mod simd;
pub mod taps;
pub mod step;
pub mod transpose;
pub mod winograd;

pub use adam::Adam;
pub use network::{Network, Workspace};
pub use params::ParamSet;
pub use kernels::{Kernels, KernelsError, Products, WinogradPolicy};
pub use step::{LossValues, Trainer};
