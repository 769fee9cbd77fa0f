//! Where a training step's time goes: each conv layer of the reference and split encoders
//! and of the decoder, forward and backward (input gradient included where training needs
//! it), on a batch, one layer at a time. Medians over repetitions, milliseconds.
//!
//!     RAYON_NUM_THREADS=1 cargo run --release -p disentangle-engine --example layer_times [BATCH] [REPS]

mod common;
use common::median_ms;
use disentangle_engine::Network;
use disentangle_engine::conv::Scratch;
use disentangle_engine::network::Stage;
use disentangle_spec::config::{EncoderConfig, ModelConfig, NoiseConfig, ObjectiveConfig};

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (n, reps) = (args.first().copied().unwrap_or(64), args.get(1).copied().unwrap_or(15));
    println!("batch {n}, {} threads, kernels {}, median of {reps}", rayon::current_num_threads(), disentangle_engine::Kernels::current());
    println!("{:<8} {:<28} {:>9} {:>9} {:>8} {:>8}", "encoder", "layer", "fwd ms", "bwd ms", "GFLOP", "GFLOP/s");
    for variant in ["conv", "split"] {
        let encoder = EncoderConfig::from_variant(variant).expect("known variant");
        let c = ModelConfig { latents: 10, channels: 1, encoder, noise: NoiseConfig::Independent, objective: ObjectiveConfig::Vae { beta: 1.0 } };
        let net = Network::init(&c, 0).expect("valid config");
        let stages = net.encoder.body.iter().map(|s| (s, true)).chain(net.decoder.iter().map(|s| (s, false)));
        for (i, (stage, in_encoder)) in stages.enumerate() {
            let Stage::Conv { layer, w, b } = *stage else { continue };
            if !in_encoder && variant != "conv" {
                continue;
            }
            let first = in_encoder && i == 0;
            let (il, ol) = (layer.input_len(), layer.output_len());
            let threads = rayon::current_num_threads();
            let mut scratch: Vec<Scratch> = (0..threads).map(|_| Scratch::default()).collect();
            for s in &mut scratch {
                s.reserve(layer.scratch_len(), layer.partial_len(), layer.bias_len(), layer.scratch_phase_len(), layer.wperm_len());
            }
            let x: Vec<f32> = (0..n * il).map(|k| ((k * 7919) % 997) as f32 / 997.0).collect();
            let mut y = vec![0.0; n * ol];
            let (mut dy, mut dx) = (vec![0.0; n * ol], vec![0.0; n * il]);
            let (mut dw, mut db) = (vec![0.0; layer.weight_len()], vec![0.0; layer.bias_len()]);
            let (wv, bv) = (net.vae.get(w), net.vae.get(b));
            let fwd = median_ms(|| layer.forward(wv, bv, &x, &mut y, n, &mut scratch, None), reps);
            // The backward pass masks dy through the ReLU in place, which is idempotent, so
            // one fill serves every repetition.
            dy.iter_mut().enumerate().for_each(|(k, d)| *d = ((k % 13) as f32 - 6.0) * 0.1);
            let bwd = median_ms(|| layer.backward(wv, &x, &y, &mut dy, &mut dw, &mut db, (!first).then_some(&mut dx[..]), n, &mut scratch, None), reps);
            // Each weight meets each small-image position once, in either direction.
            let macs = (layer.weight_len() * layer.geom.p()) as f64 * n as f64;
            let gflop = 2.0 * macs * if first { 2.0 } else { 3.0 } / 1e9;
            let name = net.vae.tensors[w].name.trim_end_matches(".weight").to_string();
            println!("{variant:<8} {name:<28} {fwd:>9.2} {bwd:>9.2} {gflop:>8.3} {:>8.1}", gflop / (fwd + bwd) * 1e3);
        }
    }
}
