//! Image arrays in HDF5 files (DeepMind's `3dshapes.h5`), read with the HDF5 library built
//! from source (`hdf5-metno` with its bundled, static build: needs cmake, no system HDF5).
//! A contiguous, unfiltered dataset is read in place with positioned reads, like an
//! uncompressed `.npz` member; a chunked or compressed one through the library, image by image.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::image_file::{ImageStore, U8ImageFile, check_read};

/// A chunked (or filtered) uint8 N×H×W×C dataset.
#[derive(Debug)]
pub struct Hdf5Images {
    path: PathBuf,
    dataset: hdf5::Dataset,
    n: usize,
    hwc: [usize; 3],
}

/// Opens dataset `name` of `file` (at `path`), which must be uint8 N×H×W×C.
pub fn open_images(file: &hdf5::File, path: &Path, name: &str, hwc: [usize; 3]) -> Result<Box<dyn ImageStore>> {
    let fmt = |m: String| DataError::format(path, format!("dataset `{name}`: {m}"));
    let ds = file.dataset(name).map_err(|e| fmt(e.to_string()))?;
    let shape = ds.shape();
    if shape.len() != 4 || shape[1..] != hwc || shape[0] == 0 {
        return Err(fmt(format!("shape {shape:?}, expected (N, {}, {}, {})", hwc[0], hwc[1], hwc[2])));
    }
    let descriptor = ds.dtype().and_then(|t| t.to_descriptor()).map_err(|e| fmt(e.to_string()))?;
    if descriptor != hdf5::types::TypeDescriptor::Unsigned(hdf5::types::IntSize::U1) {
        return Err(fmt(format!("element type {descriptor}, expected uint8")));
    }
    let n = shape[0];
    if let Some(offset) = ds.offset().filter(|_| !ds.is_chunked()) {
        return Ok(Box::new(U8ImageFile::at_offset(path, offset, n, hwc)?));
    }
    Ok(Box::new(Hdf5Images { path: path.to_path_buf(), dataset: ds, n, hwc }))
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
        let image: ndarray::Array4<u8> = self.dataset.read_slice(ndarray::s![i..i + 1, .., .., ..]).map_err(|e| DataError::format(&self.path, format!("reading image {i}: {e}")))?;
        for (o, v) in out.iter_mut().zip(image.iter()) {
            *o = *v;
        }
        Ok(())
    }
}
