//! A VAE (encoder + decoder) plus, for FactorVAE, its discriminator.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::config::{ConfigError, ModelConfig, ObjectiveConfig};
use crate::decoder::Decoder;
use crate::discriminator::Discriminator;
use crate::encoder::Encoder;
use crate::init::init_weights;
use crate::noise::{kl_per_sample, reparameterize};
use crate::objective::{self, ObjectiveInputs};
use crate::ops::bce_with_logits;

#[derive(Module, Debug)]
pub struct Vae {
    pub encoder: Encoder,
    pub decoder: Decoder,
}

impl Vae {
    /// The encoder and decoder of `config` with burn's own initialisation (callers draw the
    /// seeded weights with `init::init_weights`, or overwrite them).
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        Vae {
            encoder: Encoder::new(&config.encoder, config.channels, config.latents, device),
            decoder: Decoder::new(config.latents, config.channels, device),
        }
    }
}

/// The trainable parts of a model and its configuration.
#[derive(Debug)]
pub struct Model {
    pub config: ModelConfig,
    pub vae: Vae,
    pub discriminator: Option<Discriminator>,
}

/// The terms of one training loss evaluation; all [1] tensors (batch means).
pub struct LossParts {
    pub loss: Tensor<1>,
    pub recon: Tensor<1>,
    pub kl: Tensor<1>,
    pub tc: Option<Tensor<1>>,
    /// The sampled codes (for the discriminator step).
    pub z: Tensor<2>,
}

impl Model {
    /// A freshly initialised model: weights from `seed` (discriminator from seed + 1).
    pub fn new(config: ModelConfig, seed: u64, device: &Device) -> Result<Self, ConfigError> {
        config.validate()?;
        let vae = init_weights(Vae::new(&config, device), seed);
        let discriminator = matches!(config.objective, ObjectiveConfig::FactorVae { .. })
            .then(|| init_weights(Discriminator::new(config.latents, device), seed.wrapping_add(1)));
        Ok(Model { config, vae, discriminator })
    }

    /// A model of this shape whose weights are about to be overwritten (loaded, or copied
    /// from the CPU engine): burn's own initialisation, without drawing the seeded weights.
    pub fn for_loading(config: ModelConfig, device: &Device) -> Result<Self, ConfigError> {
        config.validate()?;
        let vae = Vae::new(&config, device);
        let discriminator = matches!(config.objective, ObjectiveConfig::FactorVae { .. }).then(|| Discriminator::new(config.latents, device));
        Ok(Model { config, vae, discriminator })
    }

    /// The training loss on images `x` [B, C, 64, 64] in [0, 1] with noise `eps` [B·J].
    pub fn loss(&self, x: Tensor<4>, eps: Vec<f32>, step: u64) -> LossParts {
        let device = x.device();
        let (mu, logvar) = self.vae.encoder.forward(x.clone());
        let z = reparameterize(mu.clone(), logvar.clone(), eps, &device);
        let logits = self.vae.decoder.forward(z.clone());
        let recon: Tensor<1> = bce_with_logits(logits, x).flatten::<2>(1, 3).sum_dim(1).mean();
        let kl = kl_per_sample(mu.clone(), logvar.clone(), &self.config.noise).mean();
        let out = objective::evaluate(
            &self.config.objective,
            ObjectiveInputs {
                recon: recon.clone(),
                kl: kl.clone(),
                mu,
                logvar,
                z: z.clone(),
                discriminator: self.discriminator.as_ref(),
                step,
            },
        );
        LossParts { loss: out.loss, recon, kl, tc: out.tc, z }
    }
}
