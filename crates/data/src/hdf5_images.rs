//! Image arrays in HDF5 files (DeepMind's `3dshapes.h5`), read with `hdf5-reader`, a pure-Rust
//! HDF5 decoder (no libhdf5, no cmake): contiguous and chunked datasets, gzip and shuffle
//! filters, every superblock version h5py writes. Images are read one at a time (a hyperslab
//! of one row), so resident memory stays one image (plus the reader's chunk cache) whatever
//! the file's size.

use std::path::{Path, PathBuf};

use hdf5_reader::{Dataset, Datatype, Hdf5File, SliceInfo, SliceInfoElem};

use crate::error::{DataError, Result};
use crate::image_file::{ImageStore, check_read};

/// A uint8 N×H×W×C dataset.
pub struct Hdf5Images {
    path: PathBuf,
    dataset: Dataset,
    n: usize,
    hwc: [usize; 3],
}

impl std::fmt::Debug for Hdf5Images {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hdf5Images").field("path", &self.path).field("n", &self.n).field("hwc", &self.hwc).finish()
    }
}

/// Opens `path` as an HDF5 file (an error naming the file otherwise).
pub fn open_file(path: &Path) -> Result<Hdf5File> {
    Hdf5File::open(path).map_err(|e| DataError::format(path, format!("not a readable HDF5 file: {e}")))
}

/// Dataset `name` of `file` as float64 values, row-major, with its shape (float32 and integer
/// datasets are converted).
pub fn read_f64(file: &Hdf5File, path: &Path, name: &str) -> Result<(Vec<f64>, Vec<usize>)> {
    let fmt = |m: String| DataError::format(path, format!("dataset `{name}`: {m}"));
    let ds = file.dataset(name).map_err(|e| fmt(e.to_string()))?;
    let shape: Vec<usize> = ds.shape().iter().map(|&d| d as usize).collect();
    let values: Vec<f64> = match ds.dtype() {
        Datatype::FloatingPoint { size: 8, .. } => ds.read_array::<f64>().map_err(|e| fmt(e.to_string()))?.into_iter().collect(),
        Datatype::FloatingPoint { size: 4, .. } => ds.read_array::<f32>().map_err(|e| fmt(e.to_string()))?.into_iter().map(f64::from).collect(),
        Datatype::FixedPoint { size: 1..=4, signed: true, .. } => ds.read_array::<i64>().map_err(|e| fmt(e.to_string()))?.into_iter().map(|v| v as f64).collect(),
        other => return Err(fmt(format!("element type {other:?}, expected floating point"))),
    };
    Ok((values, shape))
}

/// Opens dataset `name` of `file` (at `path`), which must be uint8 N×H×W×C. The last image is
/// read at once, so that a truncated file fails here rather than in training.
pub fn open_images(file: &Hdf5File, path: &Path, name: &str, hwc: [usize; 3]) -> Result<Box<dyn ImageStore>> {
    let fmt = |m: String| DataError::format(path, format!("dataset `{name}`: {m}"));
    let ds = file.dataset(name).map_err(|e| fmt(e.to_string()))?;
    let shape: Vec<usize> = ds.shape().iter().map(|&d| d as usize).collect();
    if shape.len() != 4 || shape[1..] != hwc || shape[0] == 0 {
        return Err(fmt(format!("shape {shape:?}, expected (N, {}, {}, {})", hwc[0], hwc[1], hwc[2])));
    }
    if !matches!(ds.dtype(), Datatype::FixedPoint { size: 1, signed: false, .. }) {
        return Err(fmt(format!("element type {:?}, expected uint8", ds.dtype())));
    }
    let images = Hdf5Images { path: path.to_path_buf(), dataset: ds, n: shape[0], hwc };
    let mut last = vec![0u8; hwc.iter().product()];
    images.read_image(images.n - 1, &mut last)?;
    Ok(Box::new(images))
}

impl ImageStore for Hdf5Images {
    fn len(&self) -> usize {
        self.n
    }
    fn hwc(&self) -> [usize; 3] {
        self.hwc
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn read_image(&self, i: usize, out: &mut [u8]) -> Result<()> {
        check_read(self.n, self.hwc, i, out)?;
        let all = |d: usize| SliceInfoElem::Slice { start: 0, end: d as u64, step: 1 };
        let selection = SliceInfo {
            selections: vec![SliceInfoElem::Slice { start: i as u64, end: i as u64 + 1, step: 1 }, all(self.hwc[0]), all(self.hwc[1]), all(self.hwc[2])],
        };
        let image = self.dataset.read_slice::<u8>(&selection).map_err(|e| DataError::format(&self.path, format!("reading image {i}: {e}")))?;
        if image.len() != out.len() {
            return Err(DataError::format(&self.path, format!("image {i}: {} values read, {} expected", image.len(), out.len())));
        }
        for (o, v) in out.iter_mut().zip(image.iter()) {
            *o = *v;
        }
        Ok(())
    }
}
