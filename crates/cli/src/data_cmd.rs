//! `disentangle data …`: dataset information, previews and generators.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use disentangle_data::{DATASET_NAMES, DSpritesGrid, DSpritesProcedural, FactorDataset, open_dataset};
use disentangle_viz::ImageGrid;
use rand::SeedableRng;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Factors, sizes, number of observations and memory of a dataset.
    Info {
        /// Dataset name or path: dsprites, color-dsprites, noisy-dsprites, scream-dsprites (each also -official), cars3d, cars3d:N, cars3d-official, shapes3d, shapes3d-official, smallnorb, mpi3d-toy, mpi3d-realistic, mpi3d-real, FILE.npz, FILE.h5, DIR.
        dataset: String,
    },
    /// Writes one PNG per factor: rows of images in which only that factor varies.
    Show {
        dataset: String,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Number of rows (random base factor vectors) per picture.
        #[arg(long, default_value_t = 4)]
        rows: usize,
        /// Most factor values shown per row (evenly spaced when a factor has more).
        #[arg(long, default_value_t = 16)]
        columns: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Writes a procedural dataset in the official file layout.
    Generate {
        #[arg(value_enum)]
        dataset: Generated,
        /// dsprites, shapes3d: the .npz file; cars3d: the folder for the .mat files and list.txt.
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// cars3d: number of car models.
        #[arg(long, default_value_t = 183)]
        models: usize,
        /// cars3d: seed of the model shapes and paints.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Smaller grids for quick tests (evenly spaced classes). dsprites: shape,scale,orientation,pos_x,pos_y
        /// (default 3,6,40,32,32); shapes3d: floor_hue,wall_hue,object_hue,scale,shape,orientation (default 10,10,10,8,4,15).
        #[arg(long, value_delimiter = ',')]
        grid: Option<Vec<usize>>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Generated {
    Dsprites,
    Cars3d,
    /// Shapes3D in disentanglement_lib's npz layout (uncompressed; 5.9 GB for the full grid).
    Shapes3d,
}

pub fn run(cmd: DataCommand, data_dir: Option<&Path>) -> Result<()> {
    match cmd {
        DataCommand::Info { dataset } => info(&*open(&dataset, data_dir)?),
        DataCommand::Show { dataset, out, rows, columns, seed } => {
            show(&*open(&dataset, data_dir)?, &out, rows, columns, seed)
        }
        DataCommand::Generate { dataset, out, models, seed, grid } => generate(dataset, &out, models, seed, grid.as_deref()),
    }
}

pub fn open(spec: &str, data_dir: Option<&Path>) -> Result<Box<dyn FactorDataset>> {
    let start = Instant::now();
    let d = open_dataset(spec, data_dir).with_context(|| format!("opening dataset `{spec}` (accepted: {DATASET_NAMES})"))?;
    let secs = start.elapsed().as_secs_f64();
    if secs > 1.0 {
        eprintln!("loaded {} in {secs:.1} s", d.name());
    }
    Ok(d)
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

fn info(d: &dyn FactorDataset) -> Result<()> {
    let f = d.factors();
    let [c, h, w] = d.observation_shape();
    println!("dataset       {}", d.name());
    println!("source        {}", d.source());
    println!("observations  {} of shape (C, H, W) = ({c}, {h}, {w})", d.num_observations());
    println!("factors       {}", f.num_factors());
    // Names padded to the longest (at least 12 wide, as dSprites' table always was).
    let width = f.names().iter().map(|n| n.chars().count() + 1).max().unwrap_or(0).max(12);
    for (name, size) in f.names().iter().zip(f.sizes()) {
        println!("  {name:<width$}{size}");
    }
    println!("memory        {} resident ({} if held as f32)", mib(d.resident_bytes()), mib(d.num_observations() * c * h * w * 4));
    Ok(())
}

/// Class indices shown for a factor of `size` classes in at most `columns` columns.
fn shown_classes(size: usize, columns: usize) -> Vec<usize> {
    if size <= columns {
        return (0..size).collect();
    }
    let cols = columns.max(2);
    (0..cols).map(|i| (i as f64 * (size - 1) as f64 / (cols - 1) as f64).round() as usize).collect()
}

fn show(d: &dyn FactorDataset, out: &Path, rows: usize, columns: usize, seed: u64) -> Result<()> {
    if rows == 0 || columns == 0 {
        bail!("--rows and --columns must be at least 1");
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let space = d.factors();
    let k = space.num_factors();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let bases = d.sample_factors(rows, &mut rng);
    for (f, name) in space.names().iter().enumerate() {
        let classes = shown_classes(space.sizes()[f], columns);
        let mut batch = Vec::with_capacity(rows * classes.len() * k);
        for base in bases.chunks_exact(k) {
            for &c in &classes {
                let mut v = base.to_vec();
                v[f] = c;
                batch.extend(v);
            }
        }
        let images = d.observations_with(&batch, &mut rng)?;
        let grid = ImageGrid::from_batch(&images, d.observation_shape(), classes.len(), 2)?;
        let path = out.join(format!("{}-factor{f}-{name}.png", d.name().replace([':', '/'], "_")));
        grid.save(&path)?;
        println!("{}  ({name}: classes {:?}, {rows} rows)", path.display(), classes);
    }
    Ok(())
}

fn create_parent(out: &Path) -> Result<()> {
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(())
}

fn generate(dataset: Generated, out: &Path, models: usize, seed: u64, grid: Option<&[usize]>) -> Result<()> {
    let start = Instant::now();
    match dataset {
        Generated::Dsprites => {
            let grid: [usize; 5] = grid.unwrap_or(&[3, 6, 40, 32, 32]).try_into().context("--grid takes five sizes for dsprites")?;
            let d = DSpritesProcedural::with_grid(DSpritesGrid(grid))?;
            create_parent(out)?;
            d.write_npz(out).with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {} ({} images) in {:.1} s", out.display(), d.num_observations(), start.elapsed().as_secs_f64());
        }
        Generated::Shapes3d => {
            let grid: [usize; 6] = grid.unwrap_or(&disentangle_data::shapes3d_procedural::FACTOR_SIZES).try_into().context("--grid takes six sizes for shapes3d")?;
            let d = disentangle_data::Shapes3dProcedural::with_grid(grid)?;
            create_parent(out)?;
            disentangle_data::write_shapes3d_npz(out, &d).with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {} ({} images) in {:.1} s", out.display(), d.num_observations(), start.elapsed().as_secs_f64());
        }
        Generated::Cars3d => {
            disentangle_data::write_cars3d_dir(out, models, seed).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {models} models to {} (one .mat each + list.txt) in {:.1} s",
                out.display(),
                start.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::shown_classes;

    #[test]
    fn shown_classes_are_evenly_spaced_and_include_both_ends() {
        assert_eq!(shown_classes(3, 16), vec![0, 1, 2]);
        assert_eq!(shown_classes(40, 5), vec![0, 10, 20, 29, 39]);
        assert_eq!(shown_classes(40, 1), vec![0, 39]);
    }
}
