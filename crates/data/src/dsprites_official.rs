//! dSprites in the official DeepMind file layout: an `.npz` archive with `imgs` (N, 64, 64)
//! uint8 0/1, `latents_classes` (N, 6) int64, `latents_values` (N, 6) float64 and a pickled
//! `metadata` dict (ignored). The grid is read from `latents_classes`, so smaller files in
//! the same layout (tests, subsets) load as well; rows may come in any order.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use zip::ZipArchive;
use zip::write::SimpleFileOptions;

use crate::binary_images::BinaryImages;
use crate::error::{DataError, Result};
use crate::factors::{FactorDataset, FactorSpace, check_output};
use crate::npy::{self, DType, NpyHeader};

/// The official file name (also what `disentangle data generate dsprites` suggests).
pub const DSPRITES_FILE_NAME: &str = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz";
/// Where users download it from.
pub const DSPRITES_DOWNLOAD: &str = "the deepmind/dsprites-dataset GitHub repository (file dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz)";
/// Names of the six columns of `latents_classes` / `latents_values`.
pub const DSPRITES_COLUMNS: [&str; 6] = ["color", "shape", "scale", "orientation", "pos_x", "pos_y"];

/// dSprites loaded from an official-layout `.npz` file, images bit-packed in memory.
///
/// Factors are the usual 5-factor view [shape, scale, orientation, pos_x, pos_y]: `color`
/// is dropped when it has a single value, as it does in the official file.
pub struct DSpritesOfficial {
    path: PathBuf,
    space: FactorSpace,
    images: BinaryImages,
    /// Row of the file holding the observation with flat factor index i.
    row_of: Vec<u32>,
    /// `values[k][c]`: the `latents_values` entry of class c of factor k (of the view).
    values: Vec<Vec<f64>>,
}

fn entry<'a>(
    path: &Path,
    zip: &'a mut ZipArchive<BufReader<File>>,
    name: &str,
    allow_fortran: bool,
) -> Result<(NpyHeader, zip::read::ZipFile<'a, BufReader<File>>)> {
    let mut f = zip
        .by_name(&format!("{name}.npy"))
        .map_err(|e| DataError::format(path, format!("entry `{name}`: {e}")))?;
    let h = npy::read_header(&mut f).map_err(|e| DataError::format(path, format!("entry `{name}`: {e}")))?;
    if h.fortran_order && !allow_fortran {
        return Err(DataError::format(path, format!("entry `{name}` is in Fortran order; expected C order")));
    }
    Ok((h, f))
}

/// A 2-D array in row-major order, whatever order it was stored in (NumPy writes
/// transposed arrays in Fortran order).
fn c_order<T: Copy>(data: Vec<T>, h: &NpyHeader) -> Vec<T> {
    if !h.fortran_order {
        return data;
    }
    let (rows, cols) = (h.shape[0], h.shape[1]);
    (0..rows * cols).map(|i| data[(i % cols) * rows + i / cols]).collect()
}

impl DSpritesOfficial {
    pub fn load(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        let mut zip = ZipArchive::new(BufReader::new(file))
            .map_err(|e| DataError::format(path, format!("not a readable .npz (zip) archive: {e}")))?;
        let fmt = |m: String| DataError::format(path, m);

        // latents_classes: infer the grid and the row of every factor combination.
        let (h, mut f) = entry(path, &mut zip, "latents_classes", true)?;
        if !h.dtype.is_integer() {
            return Err(fmt(format!("`latents_classes` has dtype {}, expected an integer type (int64)", h.dtype.descr())));
        }
        if h.shape.len() != 2 || h.shape[1] != 6 {
            return Err(fmt(format!("`latents_classes` has shape {:?}, expected (N, 6)", h.shape)));
        }
        let n = h.shape[0];
        if n == 0 || n > u32::MAX as usize {
            return Err(fmt(format!("`latents_classes` has {n} rows")));
        }
        let classes = npy::read_as_i64(&mut f, &h).map_err(|e| fmt(format!("`latents_classes`: {e}")))?;
        let classes = c_order(classes, &h);
        drop(f);
        let mut sizes = [0usize; 6];
        for row in classes.chunks_exact(6) {
            for (k, &c) in row.iter().enumerate() {
                if !(0..=1 << 20).contains(&c) {
                    return Err(fmt(format!("`latents_classes` holds class {c} for {}", DSPRITES_COLUMNS[k])));
                }
                sizes[k] = sizes[k].max(c as usize + 1);
            }
        }
        let full = FactorSpace::new(&DSPRITES_COLUMNS, &sizes)?;
        if full.len() != n {
            return Err(fmt(format!(
                "`latents_classes` has {n} rows but its classes span a grid of {:?} = {} combinations",
                sizes,
                full.len()
            )));
        }
        let mut row_of = vec![u32::MAX; n];
        for (r, row) in classes.chunks_exact(6).enumerate() {
            let v: Vec<usize> = row.iter().map(|&c| c as usize).collect();
            let i = full.index_of(&v)?;
            if row_of[i] != u32::MAX {
                return Err(fmt(format!("`latents_classes` rows {} and {r} are the same combination {v:?}", row_of[i])));
            }
            row_of[i] = r as u32;
        }

        // latents_values: the physical value of every class.
        let (h, mut f) = entry(path, &mut zip, "latents_values", true)?;
        if !matches!(h.dtype, DType::F64 | DType::F32) {
            return Err(fmt(format!("`latents_values` has dtype {}, expected float64", h.dtype.descr())));
        }
        if h.shape != [n, 6] {
            return Err(fmt(format!("`latents_values` has shape {:?}, expected ({n}, 6)", h.shape)));
        }
        let vals = npy::read_as_f64(&mut f, &h).map_err(|e| fmt(format!("`latents_values`: {e}")))?;
        let vals = c_order(vals, &h);
        drop(f);
        let mut values: Vec<Vec<f64>> = sizes.iter().map(|&s| vec![f64::NAN; s]).collect();
        for (crow, vrow) in classes.chunks_exact(6).zip(vals.chunks_exact(6)) {
            for k in 0..6 {
                values[k][crow[k] as usize] = vrow[k];
            }
        }
        drop(classes);
        drop(vals);

        // imgs: streamed and bit-packed row by row (3 GB as bytes for the full set).
        let (h, mut f) = entry(path, &mut zip, "imgs", false)?;
        if !matches!(h.dtype, DType::U8 | DType::Bool) {
            return Err(fmt(format!("`imgs` has dtype {}, expected uint8", h.dtype.descr())));
        }
        if h.shape.len() != 3 || h.shape[0] != n || h.shape[1] == 0 || h.shape[2] == 0 {
            return Err(fmt(format!("`imgs` has shape {:?}, expected ({n}, 64, 64)", h.shape)));
        }
        let (ih, iw) = (h.shape[1], h.shape[2]);
        let mut images = BinaryImages::zeros(n, ih, iw);
        let mut buf = vec![0u8; ih * iw * 256];
        let mut row = 0;
        while row < n {
            let rows = (n - row).min(256);
            let chunk = &mut buf[..rows * ih * iw];
            f.read_exact(chunk)
                .map_err(|e| fmt(format!("`imgs` is truncated or corrupt at image {row}: {e}")))?;
            if let Some(p) = chunk.iter().position(|&v| v > 1) {
                return Err(fmt(format!("`imgs` image {} holds value {}, expected 0 or 1", row + p / (ih * iw), chunk[p])));
            }
            for (j, px) in chunk.chunks_exact(ih * iw).enumerate() {
                images.set_from_bytes(row + j, px);
            }
            row += rows;
        }
        drop(f);

        // The view drops `color` when it is constant, as every study does.
        let keep: Vec<usize> = (0..6).filter(|&k| k != 0 || sizes[0] > 1).collect();
        let names: Vec<&str> = keep.iter().map(|&k| DSPRITES_COLUMNS[k]).collect();
        let view_sizes: Vec<usize> = keep.iter().map(|&k| sizes[k]).collect();
        let space = FactorSpace::new(&names, &view_sizes)?;
        let values = keep.iter().map(|&k| values[k].clone()).collect();
        Ok(DSpritesOfficial {
            path: path.to_path_buf(),
            space,
            images,
            row_of,
            values,
        })
    }

    /// `latents_values` of each class of each factor of the view.
    pub fn factor_values(&self) -> &[Vec<f64>] {
        &self.values
    }

    /// The stored image at a flat factor index, as 0/1 bytes.
    pub fn image_u8(&self, index: usize, out: &mut [u8]) {
        self.images.write_u8(self.row_of[index] as usize, out)
    }
}

impl FactorDataset for DSpritesOfficial {
    fn name(&self) -> &str {
        "dsprites-official"
    }
    fn source(&self) -> String {
        self.path.display().to_string()
    }
    fn factors(&self) -> &FactorSpace {
        &self.space
    }
    fn observation_shape(&self) -> [usize; 3] {
        [1, self.images.height(), self.images.width()]
    }
    fn resident_bytes(&self) -> usize {
        self.images.resident_bytes() + self.row_of.len() * 4
    }
    fn write_observations(&self, factors: &[usize], out: &mut [f32]) -> Result<()> {
        let len = self.observation_len();
        check_output(&self.space, len, factors, out)?;
        let k = self.space.num_factors();
        for (row, o) in factors.chunks_exact(k).zip(out.chunks_exact_mut(len)) {
            let i = self.space.index_of(row)?;
            self.images.write_f32(self.row_of[i] as usize, o);
        }
        Ok(())
    }
}

/// What goes into an official-layout dSprites file.
pub struct DSpritesFileContents<'a> {
    pub height: usize,
    pub width: usize,
    /// (N, 6) row-major.
    pub latents_classes: &'a [i64],
    /// (N, 6) row-major.
    pub latents_values: &'a [f64],
    /// Description stored in the pickled `metadata` dict.
    pub description: &'a str,
}

/// Writes an `.npz` in the exact official layout (deflate-compressed entries `imgs`,
/// `latents_classes`, `latents_values`, and an object-dtype `metadata`). `image(i, buf)`
/// fills row i (0/1 bytes) and is called in row order, so nothing large is held.
/// Written to a temporary file and renamed, so an existing file is never left half-written.
pub fn write_dsprites_npz(
    path: &Path,
    contents: &DSpritesFileContents<'_>,
    mut image: impl FnMut(usize, &mut [u8]),
) -> Result<()> {
    let n = contents.latents_classes.len() / 6;
    if contents.latents_classes.len() != n * 6 || contents.latents_values.len() != n * 6 {
        return Err(DataError::BufferSize {
            what: "latents (N×6)",
            got: contents.latents_values.len(),
            expected: n * 6,
        });
    }
    let file = crate::atomic::AtomicFile::create(path).map_err(|e| DataError::io(path, e))?;
    let tmp = file.temp_path().to_path_buf();
    let io = |e: std::io::Error| DataError::io(&tmp, e);
    let zerr = |e: zip::result::ZipError| DataError::format(&tmp, format!("writing zip: {e}"));
    let mut zip = zip::ZipWriter::new(BufWriter::new(file));
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file((n * contents.height * contents.width) as u64 >= u32::MAX as u64);

    zip.start_file("imgs.npy", opts).map_err(zerr)?;
    npy::write_header(&mut zip, DType::U8, &[n, contents.height, contents.width]).map_err(io)?;
    let mut buf = vec![0u8; contents.height * contents.width];
    for i in 0..n {
        image(i, &mut buf);
        zip.write_all(&buf).map_err(io)?;
    }
    zip.start_file("latents_classes.npy", opts).map_err(zerr)?;
    npy::write_header(&mut zip, DType::I64, &[n, 6]).map_err(io)?;
    zip.write_all(&npy::i64_bytes(contents.latents_classes)).map_err(io)?;
    zip.start_file("latents_values.npy", opts).map_err(zerr)?;
    npy::write_header(&mut zip, DType::F64, &[n, 6]).map_err(io)?;
    zip.write_all(&npy::f64_bytes(contents.latents_values)).map_err(io)?;
    zip.start_file("metadata.npy", opts).map_err(zerr)?;
    npy::write_header(&mut zip, DType::Object, &[]).map_err(io)?;
    zip.write_all(&pickle_str_dict(&[
        ("description", contents.description),
        ("latents_names", "color, shape, scale, orientation, posX, posY"),
    ]))
    .map_err(io)?;
    let file = zip.finish().map_err(zerr)?.into_inner().map_err(|e| io(e.into_error()))?;
    file.commit().map_err(|e| DataError::io(path, e))
}

/// A pickle (protocol 2) of a dict of strings: what `np.save` stores for an object array
/// holding a dict, so the file has an object-dtype entry like the official one.
fn pickle_str_dict(items: &[(&str, &str)]) -> Vec<u8> {
    let mut p = vec![0x80, 2, b'}', b'('];
    for s in items.iter().flat_map(|(k, v)| [k, v]) {
        p.push(b'X'); // BINUNICODE: u32 length + UTF-8
        p.extend((s.len() as u32).to_le_bytes());
        p.extend(s.as_bytes());
    }
    p.extend([b'u', b'.']); // SETITEMS, STOP
    p
}
