//! SmallNORB (LeCun et al. 2004) from the six official files, as the reference study uses it:
//! training and testing sets together (48,600 stereo pairs), the first camera's 96×96 image
//! Lanczos-resized to 64×64 grey, factors category 5, elevation 9, azimuth 18, lighting 6.
//! The toy instance (10 per category) is a non-latent factor: each observation draws it
//! uniformly at random, as disentanglement_lib's `sample_observations_from_factors` does.
//!
//! File format ("binary matrix", not MATLAB): int32 magic (0x1E3D4C55 uint8 matrix,
//! 0x1E3D4C54 int32 matrix), int32 ndim, max(3, ndim) int32 dimensions, then the elements
//! in C order, little-endian. `-dat`: uint8 24300×2×96×96; `-cat`: int32 24300 (category);
//! `-info`: int32 24300×4 (instance, elevation 0–8, azimuth 0, 2, …, 34, lighting 0–5).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use rand::{Rng, RngCore};
use rayon::prelude::*;

use crate::error::{DataError, Result};
use crate::factors::{FactorDataset, FactorSpace, batch_seeded_rng, check_output};
use crate::lanczos::LanczosResize;

pub const FACTOR_NAMES: [&str; 4] = ["category", "elevation", "azimuth", "lighting"];
pub const FACTOR_SIZES: [usize; 4] = [5, 9, 18, 6];
pub const INSTANCES: usize = 10;
/// The two sets' file name stems (under `DATA_DIR/small_norb/`), as disentanglement_lib names them.
pub const CHUNKS: [&str; 2] = ["smallnorb-5x46789x9x18x6x2x96x96-training", "smallnorb-5x01235x9x18x6x2x96x96-testing"];
pub const SMALLNORB_DOWNLOAD: &str = "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/ (gunzip the six .mat.gz files)";
pub const MAGIC_U8: u32 = 0x1E3D_4C55;
pub const MAGIC_I32: u32 = 0x1E3D_4C54;
const SOURCE: usize = 96;
const SIZE: usize = 64;

/// Header of a binary-matrix file: element type and dimensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixHeader {
    pub magic: u32,
    pub dims: Vec<usize>,
}

fn read_i32(r: &mut impl Read) -> std::io::Result<i32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(i32::from_le_bytes(b))
}

/// Reads a header; `path` names the file in errors.
pub fn read_matrix_header(r: &mut impl Read, path: &Path) -> Result<MatrixHeader> {
    let fmt = |m: String| DataError::format(path, m);
    let io = |e: std::io::Error| DataError::format(path, format!("header cut short: {e}"));
    let magic = read_i32(r).map_err(io)? as u32;
    if magic != MAGIC_U8 && magic != MAGIC_I32 {
        return Err(fmt(format!("magic number {magic:#010x} is not a SmallNORB uint8 ({MAGIC_U8:#010x}) or int32 ({MAGIC_I32:#010x}) matrix")));
    }
    let ndim = read_i32(r).map_err(io)?;
    if !(1..=8).contains(&ndim) {
        return Err(fmt(format!("{ndim} dimensions")));
    }
    let mut dims = Vec::new();
    for k in 0..(ndim as usize).max(3) {
        let d = read_i32(r).map_err(io)?;
        if d < 0 {
            return Err(fmt(format!("dimension {k} is {d}")));
        }
        if k < ndim as usize {
            dims.push(d as usize);
        }
    }
    Ok(MatrixHeader { magic, dims })
}

/// Writes a binary-matrix header (for tests and converters).
pub fn write_matrix_header(w: &mut impl std::io::Write, magic: u32, dims: &[usize]) -> std::io::Result<()> {
    w.write_all(&magic.to_le_bytes())?;
    w.write_all(&(dims.len() as i32).to_le_bytes())?;
    for k in 0..dims.len().max(3) {
        w.write_all(&(dims.get(k).copied().unwrap_or(1) as i32).to_le_bytes())?;
    }
    Ok(())
}

fn open(path: &Path) -> Result<(BufReader<File>, MatrixHeader, u64)> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let h = read_matrix_header(&mut r, path)?;
    Ok((r, h, len))
}

/// Reads an int32 matrix with the given dimensions.
fn read_ints(path: &Path, dims: &[usize]) -> Result<Vec<i32>> {
    let (mut r, h, len) = open(path)?;
    if h.magic != MAGIC_I32 || h.dims != dims {
        return Err(DataError::format(path, format!("expected an int32 matrix of shape {dims:?}, found {} {:?}", if h.magic == MAGIC_U8 { "uint8" } else { "int32" }, h.dims)));
    }
    let n: usize = dims.iter().product();
    let header = 8 + 4 * dims.len().max(3) as u64;
    if len < header + 4 * n as u64 {
        return Err(DataError::format(path, format!("truncated: {n} int32 values need {} bytes, the file has {len}", header + 4 * n as u64)));
    }
    (0..n).map(|_| read_i32(&mut r).map_err(|e| DataError::io(path, e))).collect()
}

pub struct SmallNorb {
    dir: PathBuf,
    space: FactorSpace,
    /// 64×64 grey images, 48,600 of them, row-major bytes.
    images: Vec<u8>,
    /// Image of each [category][instance][elevation][azimuth][lighting], flattened.
    row_of: Vec<u32>,
}

impl SmallNorb {
    /// Loads the six files from `dir` (disentanglement_lib's `small_norb` folder).
    pub fn load_dir(dir: &Path) -> Result<Self> {
        let full = [5, INSTANCES, 9, 18, 6];
        let total: usize = full.iter().product();
        let mut row_of = vec![u32::MAX; total];
        let mut images = Vec::with_capacity(total * SIZE * SIZE);
        for chunk in CHUNKS {
            let file = |kind: &str| dir.join(format!("{chunk}-{kind}.mat"));
            let (cat_path, info_path, dat_path) = (file("cat"), file("info"), file("dat"));
            let (mut dat, h, len) = open(&dat_path)?;
            if h.magic != MAGIC_U8 || h.dims.len() != 4 || h.dims[1..] != [2, SOURCE, SOURCE] {
                return Err(DataError::format(&dat_path, format!("expected a uint8 matrix of shape (N, 2, 96, 96), found {:?}", h.dims)));
            }
            let n = h.dims[0];
            if n == 0 || n > total {
                return Err(DataError::format(&dat_path, format!("{n} image pairs; the two files hold {total} together")));
            }
            let need = 24 + (n * 2 * SOURCE * SOURCE) as u64;
            if len < need {
                return Err(DataError::format(&dat_path, format!("truncated: {n} image pairs need {need} bytes, the file has {len}")));
            }
            let cat = read_ints(&cat_path, &[n])?;
            let info = read_ints(&info_path, &[n, 4])?;
            let first = images.len() / (SIZE * SIZE);
            for i in 0..n {
                let f = [cat[i], info[4 * i], info[4 * i + 1], info[4 * i + 2], info[4 * i + 3]];
                let bad = |what: &str| DataError::format(&info_path, format!("row {i}: {what} (category, instance, elevation, azimuth, lighting = {f:?})"));
                if f.iter().zip(&full).enumerate().any(|(k, (&v, &s))| v < 0 || (v as usize) >= if k == 3 { 2 * s } else { s }) || f[3] % 2 != 0 {
                    return Err(bad("a value out of range (azimuth must be even, 0–34)"));
                }
                let mut index = 0usize;
                for (k, (&v, &s)) in f.iter().zip(&full).enumerate() {
                    index = index * s + if k == 3 { v as usize / 2 } else { v as usize };
                }
                if row_of[index] != u32::MAX {
                    return Err(bad("this combination appears twice"));
                }
                row_of[index] = (first + i) as u32;
            }
            // The first camera's images, resized as the reference does (Lanczos), a block at a time.
            let resize = LanczosResize::new(SOURCE, SOURCE, SIZE, SIZE);
            let mut block = vec![0u8; 1024 * 2 * SOURCE * SOURCE];
            for start in (0..n).step_by(1024) {
                let m = (n - start).min(1024);
                let pairs = &mut block[..m * 2 * SOURCE * SOURCE];
                dat.read_exact(pairs).map_err(|e| DataError::io(&dat_path, e))?;
                let at = images.len();
                images.resize(at + m * SIZE * SIZE, 0);
                images[at..].par_chunks_mut(SIZE * SIZE).zip(pairs.par_chunks(2 * SOURCE * SOURCE)).for_each(|(o, p)| resize.apply(&p[..SOURCE * SOURCE], o));
            }
        }
        if let Some(missing) = row_of.iter().position(|&r| r == u32::MAX) {
            let mut f = [0usize; 5];
            let mut rest = missing;
            for k in (0..5).rev() {
                f[k] = rest % full[k];
                rest /= full[k];
            }
            return Err(DataError::format(dir, format!("no image for category {}, instance {}, elevation {}, azimuth {}, lighting {} (the two sets must cover the grid)", f[0], f[1], f[2], 2 * f[3], f[4])));
        }
        Ok(SmallNorb { dir: dir.to_path_buf(), space: FactorSpace::new(&FACTOR_NAMES, &FACTOR_SIZES)?, images, row_of })
    }

    /// Image row of a latent factor vector with the given instance.
    fn row(&self, f: &[usize], instance: usize) -> usize {
        let index = (((f[0] * INSTANCES + instance) * 9 + f[1]) * 18 + f[2]) * 6 + f[3];
        self.row_of[index] as usize
    }
}

impl FactorDataset for SmallNorb {
    fn name(&self) -> &str {
        "smallnorb"
    }
    fn source(&self) -> String {
        self.dir.display().to_string()
    }
    fn factors(&self) -> &FactorSpace {
        &self.space
    }
    fn observation_shape(&self) -> [usize; 3] {
        [1, SIZE, SIZE]
    }
    fn resident_bytes(&self) -> usize {
        self.images.len() + self.row_of.len() * 4
    }
    fn is_stochastic(&self) -> bool {
        true
    }
    fn write_observations(&self, factors: &[usize], out: &mut [f32]) -> Result<()> {
        self.write_observations_with(factors, &mut batch_seeded_rng(factors), out)
    }
    fn write_observations_with(&self, factors: &[usize], rng: &mut dyn RngCore, out: &mut [f32]) -> Result<()> {
        check_output(&self.space, SIZE * SIZE, factors, out)?;
        for (f, o) in factors.chunks_exact(4).zip(out.chunks_exact_mut(SIZE * SIZE)) {
            let instance = rng.random_range(0..INSTANCES);
            let row = self.row(f, instance);
            for (v, &b) in o.iter_mut().zip(&self.images[row * SIZE * SIZE..(row + 1) * SIZE * SIZE]) {
                *v = b as f32 / 255.0;
            }
        }
        Ok(())
    }
}
