//! One training step and the loss without gradients, on a [`Network`] and its
//! [`Workspace`]: encode, reparameterize, decode, the objective, backward, Adam; then for
//! FactorVAE the discriminator update on the same batch's detached codes.

use disentangle_spec::config::{NoiseConfig, ObjectiveConfig};

use crate::adam::Adam;
use crate::network::{Network, Workspace};
use crate::objective;

/// The terms of one loss evaluation (batch means).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossValues {
    pub loss: f64,
    pub recon: f64,
    pub kl: f64,
    /// The objective's TC estimate (FactorVAE, β-TCVAE).
    pub tc: Option<f64>,
}

/// log det of the equicorrelated noise covariance (0 for independent noise).
fn log_det(noise: &NoiseConfig, j: usize) -> f64 {
    disentangle_spec::log_det_correlation(noise, j)
}

impl Network {
    /// The loss on images x [n, C, 64, 64] with noise eps [n, J]; leaves every activation in
    /// `ws` for a following [`Network::backward`].
    pub fn forward_loss(&self, ws: &mut Workspace, x: &[f32], eps: &[f32], n: usize, step: u64) -> LossValues {
        self.forward_loss_permuted(ws, x, eps, n, step, None)
    }

    /// [`Network::forward_loss`]; for FactorVAE with `perm` ([n·J] row indices, as
    /// `column_permutations` draws them), also the discriminator's logits on the codes
    /// permuted column-wise, rows n..2n of ws.disc.last(), from the same pass over its
    /// weights as the codes' own logits (each weight matrix is read once for 2n rows instead
    /// of twice for n). The loss does not depend on them.
    pub fn forward_loss_permuted(&self, ws: &mut Workspace, x: &[f32], eps: &[f32], n: usize, step: u64, perm: Option<&[i64]>) -> LossValues {
        let j = self.latents();
        assert_eq!(x.len(), n * self.image_len(), "images must be n×C×64×64");
        assert_eq!(eps.len(), n * j, "noise must be n×J");
        self.encode(ws, x, n);
        ws.eps[..n * j].copy_from_slice(eps);
        for (((z, &m), &lv), &e) in ws.z.iter_mut().zip(&ws.mu).zip(&ws.logvar).zip(eps).take(n * j) {
            *z = m + (lv * 0.5).exp() * e;
        }
        let z = std::mem::take(&mut ws.z);
        self.decode(ws, &z, n);
        ws.z = z;
        let logits = &ws.dec.last().expect("decoder output")[..n * self.image_len()];
        // With a training workspace, ∂recon/∂logits is written in the same pass (the
        // backward pass reads it from there).
        let dlogits = ws.grads.as_mut().map(|g| &mut g.dec.last_mut().expect("decoder grad")[..n * self.image_len()]);
        let recon = objective::reconstruction(self.kernels.vectors(), logits, x, n, dlogits);
        let (mu, lv) = (&ws.mu[..n * j], &ws.logvar[..n * j]);
        let kl = objective::kl(mu, lv, n, log_det(&self.config.noise, j));
        let (loss, tc) = match self.config.objective {
            ObjectiveConfig::Vae { beta } => (recon + beta * kl, None),
            ObjectiveConfig::AnnealedVae { gamma, c_max, iteration_threshold } => {
                let c = disentangle_spec::annealed_capacity(c_max, iteration_threshold, step);
                (recon + gamma * (kl - c).abs(), None)
            }
            ObjectiveConfig::FactorVae { gamma } => {
                ws.disc_in[..n * j].copy_from_slice(&ws.z[..n * j]);
                match perm {
                    Some(perm) => {
                        permute_codes(ws, perm, n, j);
                        self.discriminate(ws, 0, 2 * n);
                    }
                    None => self.discriminate(ws, 0, n),
                }
                let tc = objective::density_ratio(ws.disc.last().expect("logits"), n);
                (recon + kl + gamma * tc, Some(tc))
            }
            ObjectiveConfig::DipVaeI { lambda_od, lambda_d } | ObjectiveConfig::DipVaeIi { lambda_od, lambda_d } => {
                let ii = matches!(self.config.objective, ObjectiveConfig::DipVaeIi { .. });
                (recon + kl + objective::dip_regularizer(mu, lv, n, j, ii, lambda_od, lambda_d, None), None)
            }
            ObjectiveConfig::BetaTcvae { beta } => {
                let tc = objective::total_correlation(&ws.z[..n * j], mu, lv, n, j, None);
                (recon + kl + (beta - 1.0) * tc, Some(tc))
            }
        };
        LossValues { loss, recon, kl, tc }
    }

    /// Gradients of the loss of the last [`Network::forward_loss`] (on this training
    /// workspace, which left ∂recon/∂logits in place) w.r.t. every VAE parameter, into
    /// `ws.grads.vae`. The discriminator only passes gradients through.
    pub fn backward(&self, ws: &mut Workspace, x: &[f32], n: usize, step: u64) {
        let j = self.latents();
        self.decoder_backward(ws, n);
        let kl_coef = match self.config.objective {
            ObjectiveConfig::Vae { beta } => beta,
            ObjectiveConfig::AnnealedVae { gamma, c_max, iteration_threshold } => {
                let c = disentangle_spec::annealed_capacity(c_max, iteration_threshold, step);
                let kl = objective::kl(&ws.mu[..n * j], &ws.logvar[..n * j], n, log_det(&self.config.noise, j));
                gamma * (kl - c).signum() * f64::from(u8::from(kl != c))
            }
            _ => 1.0,
        };
        if let ObjectiveConfig::FactorVae { gamma } = self.config.objective {
            let g = ws.grads.as_mut().expect("training workspace");
            let seed = (gamma / n as f64) as f32;
            for row in g.disc.last_mut().expect("logits grad").chunks_mut(2).take(n) {
                row[0] = seed;
                row[1] = -seed;
            }
            self.discriminator_backward(ws, n, false);
            let g = ws.grads.as_mut().expect("training workspace");
            g.z[..n * j].iter_mut().zip(&g.disc_in[..n * j]).for_each(|(a, b)| *a += b);
        }
        let g = ws.grads.as_mut().expect("training workspace");
        let (mu, lv, z) = (&ws.mu[..n * j], &ws.logvar[..n * j], &ws.z[..n * j]);
        g.mu[..n * j].fill(0.0);
        g.logvar[..n * j].fill(0.0);
        objective::kl_backward(mu, lv, n, kl_coef, &mut g.mu, &mut g.logvar);
        match self.config.objective {
            ObjectiveConfig::DipVaeI { lambda_od, lambda_d } | ObjectiveConfig::DipVaeIi { lambda_od, lambda_d } => {
                let ii = matches!(self.config.objective, ObjectiveConfig::DipVaeIi { .. });
                objective::dip_regularizer(mu, lv, n, j, ii, lambda_od, lambda_d, Some((&mut g.mu, &mut g.logvar)));
            }
            ObjectiveConfig::BetaTcvae { beta } => {
                objective::total_correlation(z, mu, lv, n, j, Some((beta - 1.0, &mut g.z, &mut g.mu, &mut g.logvar)));
            }
            _ => {}
        }
        // z = μ + exp(½ log σ²)·ε.
        for ((((dmu, dlv), &dz), &e), &l) in g.mu.iter_mut().zip(g.logvar.iter_mut()).zip(&g.z).zip(&ws.eps).zip(lv) {
            *dmu += dz;
            *dlv += dz * e * 0.5 * (l * 0.5).exp();
        }
        self.encoder_backward(ws, x, n);
    }
}

/// Rows n..2n of ws.disc_in = the codes ws.z [n, J] permuted column-wise by `perm`.
fn permute_codes(ws: &mut Workspace, perm: &[i64], n: usize, j: usize) {
    assert_eq!(perm.len(), n * j, "one row index per code entry");
    for b in 0..n {
        for d in 0..j {
            let src = perm[b * j + d] as usize;
            ws.disc_in[(n + b) * j + d] = ws.z[src * j + d];
        }
    }
}

/// A network with its training workspace and optimizers.
#[derive(Debug)]
pub struct Trainer {
    pub net: Network,
    pub ws: Workspace,
    pub vae_adam: Adam,
    pub disc_adam: Option<Adam>,
    /// Rows of the last forward pass.
    last_batch: usize,
    /// The permutation whose discriminator logits the last forward pass computed (empty if
    /// none): [`Trainer::discriminator_update`] with the same one reuses them.
    permuted: Vec<i64>,
}

impl Trainer {
    pub fn new(net: Network, batch: usize) -> Self {
        let ws = Workspace::new(&net, batch, true);
        let vae_adam = Adam::for_vae(net.vae.len());
        let disc_adam = net.disc.as_ref().map(|d| Adam::for_discriminator(d.len()));
        Trainer { net, ws, vae_adam, disc_adam, last_batch: 0, permuted: Vec::new() }
    }

    /// The loss of one batch, keeping activations for [`Trainer::vae_update`].
    pub fn forward(&mut self, x: &[f32], eps: &[f32], step: u64) -> LossValues {
        self.forward_with_permutation(x, eps, step, None)
    }

    /// [`Trainer::forward`]; for FactorVAE with the permutation `perm` that the following
    /// [`Trainer::discriminator_update`] will use, its discriminator logits on the permuted
    /// codes come from the same pass (see [`Network::forward_loss_permuted`]): the same
    /// numbers, one read of the discriminator's weights fewer per step.
    pub fn forward_with_permutation(&mut self, x: &[f32], eps: &[f32], step: u64, perm: Option<&[i64]>) -> LossValues {
        let n = eps.len() / self.net.latents();
        self.last_batch = n;
        let perm = perm.filter(|_| self.disc_adam.is_some());
        self.permuted.clear();
        self.permuted.extend_from_slice(perm.unwrap_or(&[]));
        self.net.forward_loss_permuted(&mut self.ws, x, eps, n, step, perm)
    }

    /// Backward through the last forward pass and one Adam step on the VAE.
    pub fn vae_update(&mut self, x: &[f32], step: u64, lr: f64) {
        let n = self.last_batch;
        self.net.backward(&mut self.ws, x, n, step);
        let g = self.ws.grads.as_ref().expect("training workspace");
        self.vae_adam.step(self.net.kernels.vectors(), lr, &mut self.net.vae.data, &g.vae);
    }

    /// FactorVAE: one discriminator step on the last batch's codes (detached) against their
    /// column-wise permutation `perm` ([n·J] row indices, as `column_permutations` draws
    /// them); returns the discriminator loss. The discriminator weights have not changed
    /// since the forward pass, so its logits on the codes are reused, and on the permuted
    /// codes too when that pass was given the same `perm`.
    pub fn discriminator_update(&mut self, perm: &[i64], lr: f64) -> Option<f64> {
        let adam = self.disc_adam.as_mut()?;
        let level = self.net.kernels.vectors();
        let (n, j) = (self.last_batch, self.net.latents());
        let ws = &mut self.ws;
        if self.permuted != perm {
            permute_codes(ws, perm, n, j);
            self.net.discriminate(ws, n, n);
        }
        self.permuted.clear();
        let g = ws.grads.as_mut().expect("training workspace");
        let logits = ws.disc.last().expect("logits");
        let loss = objective::discriminator_loss(&logits[..4 * n], n, &mut g.disc.last_mut().expect("logits grad")[..4 * n]);
        self.net.discriminator_backward(ws, 2 * n, true);
        let g = ws.grads.as_ref().expect("training workspace");
        adam.step(level, lr, &mut self.net.disc.as_mut().expect("factor-vae").data, &g.disc_params);
        Some(loss)
    }
}
