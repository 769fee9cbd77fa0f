//! Pictures of one trained model (`disentangle visualize`, and the report's best-MIG
//! models): reconstructions, prior samples, latent traversals (PNG, rows ordered by the
//! latent's mean KL and labelled with it) and an animated traversal GIF. Every file name
//! carries the run's configuration and seed, and a caption file records the full config.

use std::path::{Path, PathBuf};

use disentangle_data::open_recorded_dataset;
use disentangle_train::inference::load_trained;
use disentangle_train::run_dir::write_atomic;
use disentangle_viz::{ImageGrid, label_rows, save_gif, save_png};
use image::RgbImage;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Result, StudyError};
use crate::evaluation::encode_in_chunks;
use crate::spec::{Configuration, fmt_num};

#[derive(Clone, Debug)]
pub struct PictureOptions {
    /// Images in the reconstruction grid (inputs above, reconstructions below).
    pub reconstructions: usize,
    /// Prior samples z ~ N(0, I) decoded.
    pub samples: usize,
    /// Traversal values run over [−range, range] …
    pub range: f32,
    /// … in this many steps (columns).
    pub steps: usize,
    /// Flat dataset index of the traversal's base image (default: the first seeded sample).
    pub base_index: Option<usize>,
    /// Images encoded to rank the latents by their mean KL.
    pub kl_samples: usize,
    /// Milliseconds per GIF frame.
    pub gif_delay_ms: u32,
    pub seed: u64,
    pub device: Option<String>,
    pub data_dir: Option<PathBuf>,
}

impl Default for PictureOptions {
    fn default() -> Self {
        PictureOptions {
            reconstructions: 10,
            samples: 16,
            range: 2.0,
            steps: 9,
            base_index: None,
            kl_samples: 1000,
            gif_delay_ms: 150,
            seed: 0,
            device: None,
            data_dir: None,
        }
    }
}

/// What [`visualize`] wrote.
#[derive(Clone, Debug)]
pub struct Pictures {
    pub reconstructions: PathBuf,
    pub samples: PathBuf,
    pub traversals: PathBuf,
    pub traversal_gif: PathBuf,
    pub caption: PathBuf,
    /// Latents in traversal-row order (largest mean KL first) …
    pub latent_order: Vec<usize>,
    /// … and each latent's mean KL (indexed by latent).
    pub latent_kl: Vec<f64>,
}

fn picture_err(what: &Path, e: impl std::fmt::Display) -> StudyError {
    StudyError::Picture { what: what.display().to_string(), message: e.to_string() }
}

/// Mean KL(q(z_j|x) ‖ N(0, 1)) per latent over a batch of posteriors (n×J, row-major).
pub fn mean_kl_per_latent(mu: &[f32], logvar: &[f32], latents: usize) -> Vec<f64> {
    let n = mu.len() / latents.max(1);
    let mut kl = vec![0.0f64; latents];
    for (i, (m, l)) in mu.iter().zip(logvar).enumerate() {
        let (m, l) = (*m as f64, *l as f64);
        kl[i % latents] += 0.5 * (m * m + l.exp() - l - 1.0);
    }
    kl.iter_mut().for_each(|v| *v /= n.max(1) as f64);
    kl
}

/// Latent indices sorted by decreasing KL (ties by index, so the order is deterministic).
pub fn order_by_kl(kl: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..kl.len()).collect();
    order.sort_by(|&a, &b| kl[b].total_cmp(&kl[a]).then(a.cmp(&b)));
    order
}

/// Evenly spaced values over [−range, range] (both ends included).
pub fn traversal_values(range: f32, steps: usize) -> Vec<f32> {
    match steps {
        0 => vec![],
        1 => vec![0.0],
        _ => (0..steps).map(|i| -range + 2.0 * range * i as f32 / (steps - 1) as f32).collect(),
    }
}

/// Codes for a traversal: for each latent in `order`, `values.len()` copies of `base` with
/// that latent replaced by each value (row-major: rows = latents, columns = values).
pub fn traversal_codes(base: &[f32], order: &[usize], values: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(order.len() * values.len() * base.len());
    for &j in order {
        for &v in values {
            let start = out.len();
            out.extend_from_slice(base);
            out[start + j] = v;
        }
    }
    out
}

/// Writes the pictures of the run in `run_dir` into `out_dir`.
pub fn visualize(run_dir: &Path, out_dir: &Path, o: &PictureOptions) -> Result<Pictures> {
    if o.steps < 2 || !(o.range.is_finite() && o.range > 0.0) {
        return Err(StudyError::Invalid(format!("traversal: need ≥ 2 steps and a positive range (got {} steps, range {})", o.steps, o.range)));
    }
    let model = load_trained(run_dir, o.device.as_deref())?;
    let dataset = open_recorded_dataset(&model.config.dataset, run_dir, o.data_dir.as_deref())?;
    std::fs::create_dir_all(out_dir).map_err(|e| StudyError::io(out_dir, e))?;
    let config = Configuration::from_train(&model.config);
    let prefix = format!("{}.s{}.step{}", config.slug(), model.config.seed, model.step);
    let title = format!("{} · {} · seed {} · step {}", config.dataset, config.label(), model.config.seed, model.step);
    let shape = dataset.observation_shape();
    let latents = model.config.model.latents;
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    let path = |name: &str| out_dir.join(format!("{prefix}_{name}"));

    // Reconstructions of seeded samples.
    let n = o.reconstructions.max(1);
    let factors = dataset.sample_factors(n, &mut rng);
    let images = dataset.observations_with(&factors, &mut rng)?;
    let (mu, _) = model.encode(&images, n);
    let recon = model.decode(&mu, n);
    let mut grid = ImageGrid::new(shape, 2, n, 2).map_err(|e| picture_err(run_dir, e))?;
    let per = shape.iter().product::<usize>();
    for i in 0..n {
        grid.put(0, i, &images[i * per..(i + 1) * per]).map_err(|e| picture_err(run_dir, e))?;
        grid.put(1, i, &recon[i * per..(i + 1) * per]).map_err(|e| picture_err(run_dir, e))?;
    }
    let reconstructions = path("reconstructions.png");
    save_labelled(&grid, 2, &["input".into(), "reconstruction".into()], &title, &reconstructions)?;

    // Prior samples.
    let m = o.samples.max(1);
    let z: Vec<f32> = (0..m * latents).map(|_| StandardNormal.sample(&mut rng)).collect();
    let decoded = model.decode(&z, m);
    let cols = m.div_ceil(2).max(1);
    let rows = m.div_ceil(cols);
    let grid = ImageGrid::from_batch(&decoded, shape, cols, 2).map_err(|e| picture_err(run_dir, e))?;
    let samples = path("prior_samples.png");
    save_labelled(&grid, rows, &vec![String::new(); rows], &format!("{title} · prior samples"), &samples)?;

    // Traversals.
    let kl_n = o.kl_samples.max(1);
    let kl_factors = dataset.sample_factors(kl_n, &mut rng);
    let (kl_mu, kl_lv) = encode_in_chunks(&model, &*dataset, &kl_factors, &mut rng)?;
    let latent_kl = mean_kl_per_latent(&kl_mu, &kl_lv, latents);
    let order = order_by_kl(&latent_kl);
    let base_factors = match o.base_index {
        Some(i) => {
            let count = dataset.factors().len();
            if i >= count {
                return Err(StudyError::Invalid(format!("--base-index {i}: the dataset has {count} images")));
            }
            dataset.factors().factors_of(i)?
        }
        None => factors[..dataset.factors().num_factors()].to_vec(),
    };
    let base_image = dataset.observations_with(&base_factors, &mut rng)?;
    let (base, _) = model.encode(&base_image, 1);
    let values = traversal_values(o.range, o.steps);
    let codes = traversal_codes(&base, &order, &values);
    let decoded = model.decode(&codes, order.len() * values.len());
    let grid = ImageGrid::from_batch(&decoded, shape, values.len(), 2).map_err(|e| picture_err(run_dir, e))?;
    let labels: Vec<String> = order.iter().map(|&j| format!("z{j}  KL {:.2}", latent_kl[j])).collect();
    let traversals = path("traversals.png");
    let range = fmt_num(o.range as f64);
    save_labelled(&grid, order.len(), &labels, &format!("{title} · z over [−{range}, {range}]"), &traversals)?;

    // GIF: every frame shows all latents (rows of 5, KL order) at one value, sweeping back and forth.
    let mut frames: Vec<RgbImage> = Vec::new();
    let sweep: Vec<usize> = (0..values.len()).chain((1..values.len() - 1).rev()).collect();
    let gif_cols = order.len().min(5);
    for &t in &sweep {
        let mut frame = Vec::with_capacity(order.len() * per);
        for r in 0..order.len() {
            let k = r * values.len() + t;
            frame.extend_from_slice(&decoded[k * per..(k + 1) * per]);
        }
        let g = ImageGrid::from_batch(&frame, shape, gif_cols, 2).map_err(|e| picture_err(run_dir, e))?;
        frames.push(g.image().clone());
    }
    let traversal_gif = path("traversals.gif");
    save_gif(&frames, o.gif_delay_ms, &traversal_gif).map_err(|e| picture_err(&traversal_gif, e))?;

    let caption = path("caption.txt");
    let mut text = format!(
        "run: {}\ncheckpoint: {} (step {})\nconfiguration: {}\n\ntraversals: base image factors {:?}, values {:?}\nrows (latent, mean KL over {kl_n} images):\n",
        run_dir.display(),
        model.checkpoint.display(),
        model.step,
        title,
        base_factors,
        values
    );
    for &j in &order {
        text.push_str(&format!("  z{j}\t{:.4}\n", latent_kl[j]));
    }
    text.push_str("\nGIF: each frame shows every latent (same order, rows of 5) at one value, sweeping −range → range → −range.\n\n");
    text.push_str(&model.config.to_toml());
    write_atomic(&caption, text.as_bytes())?;
    Ok(Pictures { reconstructions, samples, traversals, traversal_gif, caption, latent_order: order, latent_kl })
}

fn save_labelled(grid: &ImageGrid, rows: usize, labels: &[String], caption: &str, path: &Path) -> Result<()> {
    let img = label_rows(grid.image(), rows, 2, labels, Some(caption));
    save_png(&img, path).map_err(|e| picture_err(path, e))
}
