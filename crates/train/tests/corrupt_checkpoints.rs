//! A run whose checkpoint files were corrupted (truncated, bytes flipped, sizes that lie)
//! must fail to load with an error naming the file, or load: never panic or abort. The
//! corruptions are seeded, so a failure reproduces.

use std::path::Path;

use disentangle_models::config::{EncoderConfig, ModelConfig, NoiseConfig, ObjectiveConfig};
use disentangle_train::inference::load_trained;
use disentangle_train::trainer::{TrainOptions, resume, train};
use disentangle_train::TrainConfig;
use rand::{Rng, SeedableRng};

fn tiny_run(dir: &Path) -> std::path::PathBuf {
    let config = TrainConfig {
        dataset: "dsprites".into(),
        steps: 2,
        batch_size: 4,
        learning_rate: 1e-4,
        discriminator_learning_rate: 1e-4,
        seed: 1,
        log_every: 1,
        checkpoint_every: 2,
        summary_batches: 1,
        device: "cpu".into(),
        series: Default::default(),
        model: ModelConfig {
            latents: 4,
            channels: 1,
            encoder: EncoderConfig::Conv { k4_all: false },
            noise: NoiseConfig::Independent,
            objective: ObjectiveConfig::FactorVae { gamma: 10.0 },
        },
    };
    let run = dir.join("run");
    train(config, &run, &TrainOptions { progress: false, ..Default::default() }).unwrap();
    run
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() { copy_dir(&p, &target) } else { std::fs::copy(&p, &target).map(|_| ()).unwrap() }
    }
}

#[test]
fn corrupted_checkpoint_files_are_errors_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path());
    let ckpt = std::fs::read_to_string(run.join("checkpoints/latest")).unwrap();
    let ckpt_dir = run.join("checkpoints").join(ckpt.trim());
    let files = ["vae.bpk", "vae-optimizer.bpk", "discriminator.bpk", "discriminator-optimizer.bpk", "state.json"];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let mut failures = 0;
    for case in 0..40 {
        let name = files[case % files.len()];
        let copy = dir.path().join(format!("case-{case}"));
        copy_dir(&run, &copy);
        let file = copy.join("checkpoints").join(ckpt.trim()).join(name);
        let mut bytes = std::fs::read(ckpt_dir.join(name)).unwrap();
        match case / files.len() % 4 {
            0 => bytes.truncate(rng.random_range(0..bytes.len())),
            1 => {
                for _ in 0..4 {
                    let i = rng.random_range(0..bytes.len());
                    bytes[i] ^= rng.random_range(1..=255u8);
                }
            }
            2 => {
                // Eight bytes that read as a huge length or shape.
                let i = rng.random_range(0..bytes.len().saturating_sub(8).max(1));
                for (k, b) in u64::MAX.to_le_bytes().iter().enumerate() {
                    if let Some(slot) = bytes.get_mut(i + k) {
                        *slot = *b;
                    }
                }
            }
            _ => bytes.clear(),
        }
        std::fs::write(&file, &bytes).unwrap();
        // Both readers of a checkpoint: inference and resuming.
        let outcomes = [
            load_trained(&copy, None).map(|_| ()),
            resume(&copy, Some(3), &TrainOptions { progress: false, ..Default::default() }).map(|_| ()),
        ];
        for outcome in outcomes {
            if let Err(e) = outcome {
                failures += 1;
                let message = e.to_string();
                assert!(message.contains(name) || message.contains("checkpoint"), "case {case} ({name}): {message}");
            }
        }
    }
    // Most corruptions are caught (a flipped byte inside a weight is a valid, different file).
    assert!(failures >= 30, "only {failures} of 80 loads failed");
}
