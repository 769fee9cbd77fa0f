//! The network's passes over a [`Workspace`]: encode, decode, discriminate, and their
//! backward passes.

use rayon::prelude::*;

use super::runs::{body_backward, body_forward};
use super::*;
use crate::dense::column_sums;
use crate::matmul::{View, matmul};

impl Network {
    /// μ and log σ² of `n` images x [n, C, 64, 64] into ws.mu, ws.logvar.
    pub fn encode(&self, ws: &mut Workspace, x: &[f32], n: usize) {
        assert!(n <= ws.capacity, "batch larger than the workspace");
        let j = self.latents();
        let p = &self.vae;
        body_forward(&self.encoder.body, p, x, &mut ws.enc, 0, n, &mut ws.scratch, &mut ws.enc_cols, ws.run_group);
        let feats = ws.enc.last().expect("encoders have a body");
        match self.encoder.head {
            Head::Dense { mu, logvar } => {
                mu.dense_forward(p, feats, &mut ws.mu, n);
                logvar.dense_forward(p, feats, &mut ws.logvar, n);
            }
            Head::Split { latents, features: f, hidden: h, w1, b1, w2, b2 } => {
                let (w1, b1, w2, b2) = (p.get(w1), p.get(b1), p.get(w2), p.get(b2));
                // One task per latent: each head's products are too small to share, and the
                // heads are independent (the same bits whatever the threads).
                let hidden = ws.split_hidden[..latents * n * h].par_chunks_mut(n * h);
                let outs = ws.split_out[..latents * n * 2].par_chunks_mut(n * 2);
                hidden.zip(outs).enumerate().for_each(|(l, (hid, out))| {
                    let a = View { data: &feats[l * f..], rs: latents * f, cs: 1 };
                    matmul(n, h, f, hid, h, false, a, View::rows(&w1[l * f * h..(l + 1) * f * h], h), false);
                    Activation::Relu.bias_and_apply(self.kernels.vectors(), hid, &b1[l * h..(l + 1) * h]);
                    matmul(n, 2, h, out, 2, false, View::rows(hid, h), View::rows(&w2[l * h * 2..(l + 1) * h * 2], 2), false);
                    Activation::Identity.bias_and_apply(self.kernels.vectors(), out, &b2[l * 2..(l + 1) * 2]);
                });
                for l in 0..latents {
                    let out = &ws.split_out[l * n * 2..(l + 1) * n * 2];
                    for b in 0..n {
                        ws.mu[b * j + l] = out[2 * b];
                        ws.logvar[b * j + l] = out[2 * b + 1];
                    }
                }
            }
            Head::Interleaved => {
                for b in 0..n {
                    ws.mu[b * j..(b + 1) * j].copy_from_slice(&feats[b * 2 * j..b * 2 * j + j]);
                    ws.logvar[b * j..(b + 1) * j].copy_from_slice(&feats[b * 2 * j + j..(b + 1) * 2 * j]);
                }
            }
        }
    }

    /// Bernoulli logits [n, C, 64, 64] of codes `z` [n, J], into ws.dec.last().
    pub fn decode(&self, ws: &mut Workspace, z: &[f32], n: usize) {
        assert!(n <= ws.capacity, "batch larger than the workspace");
        body_forward(&self.decoder, &self.vae, z, &mut ws.dec, 0, n, &mut ws.scratch, &mut [], ws.run_group);
    }

    /// Discriminator logits of rows `r0..r0 + n` of ws.disc_in into ws.disc.last().
    pub fn discriminate(&self, ws: &mut Workspace, r0: usize, n: usize) {
        let (stages, p) = (self.discriminator.as_ref().expect("factor-vae"), self.disc.as_ref().expect("factor-vae"));
        let j = self.latents();
        let input = std::mem::take(&mut ws.disc_in);
        body_forward(stages, p, &input[r0 * j..], &mut ws.disc, r0, n, &mut ws.scratch, &mut [], ws.run_group);
        ws.disc_in = input;
    }

    /// Encoder backward from gradients in g.mu, g.logvar; parameter gradients into g.vae.
    pub fn encoder_backward(&self, ws: &mut Workspace, x: &[f32], n: usize) {
        let j = self.latents();
        let p = &self.vae;
        let g = ws.grads.as_mut().expect("training workspace");
        let last = self.encoder.body.len() - 1;
        let feats = &ws.enc[last];
        match self.encoder.head {
            Head::Dense { mu, logvar } => {
                let dfeats = &mut g.enc[last];
                let (Stage::Dense { layer: lm, w: wm, b: bm }, Stage::Dense { layer: ll, w: wl, b: bl }) = (mu, logvar) else {
                    unreachable!("dense heads")
                };
                {
                    let (dw, db) = tensor_pair_mut(p, &mut g.vae, wm, bm);
                    lm.backward(p.get(wm), feats, &ws.mu, &mut g.mu, Some((dw, db)), Some(dfeats), n);
                }
                let (dw, db) = tensor_pair_mut(p, &mut g.vae, wl, bl);
                // dfeats += dlogvar · W_lvᵀ: the identity head's backward, accumulated by hand.
                column_sums(&g.logvar[..n * j], j, db);
                matmul(ll.din, j, n, dw, j, false, View::transposed(feats, ll.din), View::rows(&g.logvar, j), true);
                matmul(n, ll.din, j, dfeats, ll.din, true, View::rows(&g.logvar, j), View::transposed(p.get(wl), j), true);
            }
            Head::Split { latents, features: f, hidden: h, w1, b1, w2, b2 } => {
                let dfeats = &mut g.enc[last];
                let (w1v, w2v) = (p.get(w1), p.get(w2));
                for l in 0..latents {
                    let dout = &mut g.split_out[l * n * 2..(l + 1) * n * 2];
                    for b in 0..n {
                        dout[2 * b] = g.mu[b * j + l];
                        dout[2 * b + 1] = g.logvar[b * j + l];
                    }
                }
                // One task per latent, as in the forward pass; each writes its own slices of
                // the four head tensors' gradients and its own feature-gradient block.
                let (dw1, db1, dw2, db2) = head_gradients_mut(p, &mut g.vae, [w1, b1, w2, b2]);
                let per_latent = g.split_out[..latents * n * 2]
                    .par_chunks(n * 2)
                    .zip(g.split_hidden[..latents * n * h].par_chunks_mut(n * h))
                    .zip(g.split_dfeats[..latents * n * f].par_chunks_mut(n * f))
                    .zip(dw1.par_chunks_mut(f * h).zip(db1.par_chunks_mut(h)))
                    .zip(dw2.par_chunks_mut(h * 2).zip(db2.par_chunks_mut(2)));
                per_latent.enumerate().for_each(|(l, ((((dout, dhid), dfl), (dw1, db1)), (dw2, db2)))| {
                    let hid = &ws.split_hidden[l * n * h..(l + 1) * n * h];
                    column_sums(dout, 2, db2);
                    matmul(h, 2, n, dw2, 2, false, View::transposed(hid, h), View::rows(dout, 2), false);
                    let w2l = &w2v[l * h * 2..(l + 1) * h * 2];
                    matmul(n, h, 2, dhid, h, false, View::rows(dout, 2), View::transposed(w2l, 2), false);
                    Activation::Relu.backward_in_place(self.kernels.vectors(), hid, dhid);
                    column_sums(dhid, h, db1);
                    let a = View { data: &feats[l * f..], rs: 1, cs: latents * f };
                    matmul(f, h, n, dw1, h, false, a, View::rows(dhid, h), false);
                    let w1l = &w1v[l * f * h..(l + 1) * f * h];
                    matmul(n, f, h, dfl, f, false, View::rows(dhid, h), View::transposed(w1l, h), false);
                });
                for b in 0..n {
                    for l in 0..latents {
                        let src = &g.split_dfeats[(l * n + b) * f..(l * n + b + 1) * f];
                        dfeats[(b * latents + l) * f..(b * latents + l + 1) * f].copy_from_slice(src);
                    }
                }
            }
            Head::Interleaved => {
                let dfeats = &mut g.enc[last];
                for b in 0..n {
                    dfeats[b * 2 * j..b * 2 * j + j].copy_from_slice(&g.mu[b * j..(b + 1) * j]);
                    dfeats[b * 2 * j + j..(b + 1) * 2 * j].copy_from_slice(&g.logvar[b * j..(b + 1) * j]);
                }
            }
        }
        body_backward(&self.encoder.body, p, &mut g.vae, x, &ws.enc, &mut g.enc, None, n, &mut ws.scratch, &ws.enc_cols, ws.run_group);
    }

    /// Decoder backward from g.dec.last(); writes g.z (overwritten) and parameter gradients.
    pub fn decoder_backward(&self, ws: &mut Workspace, n: usize) {
        let g = ws.grads.as_mut().expect("training workspace");
        body_backward(&self.decoder, &self.vae, &mut g.vae, &ws.z, &ws.dec, &mut g.dec, Some(&mut g.z), n, &mut ws.scratch, &[], ws.run_group);
    }

    /// Discriminator backward over rows 0..n of g.disc.last() (set by the caller): input
    /// gradients into g.disc_in rows 0..n; parameter gradients into g.disc_params if
    /// `param_grads`, else the input gradient alone (the VAE step must not train it).
    pub fn discriminator_backward(&self, ws: &mut Workspace, n: usize, param_grads: bool) {
        let (stages, p) = (self.discriminator.as_ref().expect("factor-vae"), self.disc.as_ref().expect("factor-vae"));
        let g = ws.grads.as_mut().expect("training workspace");
        if param_grads {
            body_backward(stages, p, &mut g.disc_params, &ws.disc_in, &ws.disc, &mut g.disc, None, n, &mut ws.scratch, &[], ws.run_group);
            return;
        }
        for i in (0..stages.len()).rev() {
            let Stage::Dense { layer, w, .. } = stages[i] else { unreachable!("dense discriminator") };
            let (lower, upper) = g.disc.split_at_mut(i);
            let dx: &mut [f32] = if i == 0 { &mut g.disc_in } else { &mut lower[i - 1] };
            let x = if i == 0 { &ws.disc_in[..] } else { &ws.disc[i - 1][..] };
            layer.backward(p.get(w), x, &ws.disc[i], &mut upper[0], None, Some(dx), n);
        }
    }
}
