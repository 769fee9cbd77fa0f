//! Random access to a large N×H×W×C `uint8` image array stored in an `.npz` archive,
//! without holding it in memory: Shapes3D (5.9 GB) and MPI3D (5.7 or 12.7 GB) are read
//! image by image with positioned reads, so only the page cache holds them.
//!
//! A member stored without compression (`np.savez`) is read in place. A deflated member
//! (`np.savez_compressed`) cannot be read at random, so it is decompressed once into a
//! `.npy` file beside the archive (`<stem>.<array>.npy`, written to a temporary name and then
//! renamed) and that file is read from then on; it is rebuilt when the archive is newer.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{DataError, Result};
use crate::factors::{FactorSpace, check_output};
use crate::npy::{DType, NpyHeader, read_header};

/// Random access to N images of H×W×C bytes (an array in a file, or an HDF5 dataset).
pub trait ImageStore: Send + Sync + std::fmt::Debug {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// (H, W, C).
    fn hwc(&self) -> [usize; 3];
    /// H·W·C.
    fn image_len(&self) -> usize {
        self.hwc().iter().product()
    }
    /// The file the images are read from.
    fn path(&self) -> &Path;
    /// Copies image `i` (H×W×C bytes) into `out`.
    fn read_image(&self, i: usize, out: &mut [u8]) -> Result<()>;
    /// Writes image `i` as C×H×W values in [0, 1] (the layout every dataset hands out).
    fn write_chw_f32(&self, i: usize, scratch: &mut [u8], out: &mut [f32]) -> Result<()> {
        self.read_image(i, scratch)?;
        let [h, w, c] = self.hwc();
        for ch in 0..c {
            for p in 0..h * w {
                out[ch * h * w + p] = scratch[p * c + ch] as f32 / 255.0;
            }
        }
        Ok(())
    }
    /// `FactorDataset::write_observations` of a full-grid dataset whose images are stored in
    /// row-major factor order (Shapes3D, MPI3D): image `index_of(factors)` for each row.
    fn write_grid_observations(&self, space: &FactorSpace, factors: &[usize], out: &mut [f32]) -> Result<()> {
        let len = self.image_len();
        check_output(space, len, factors, out)?;
        let k = space.num_factors();
        out.par_chunks_mut(len).zip(factors.par_chunks(k)).try_for_each_init(
            || vec![0u8; len],
            |scratch, (o, f)| {
                let i = space.index_of(f)?;
                self.write_chw_f32(i, scratch, o)
            },
        )
    }
    /// `FactorDataset::source` of a dataset opened from `archive`: the archive, and the file the
    /// images are really read from when that is another one (a decompressed copy).
    fn source_of(&self, archive: &Path) -> String {
        if self.path() == archive {
            archive.display().to_string()
        } else {
            format!("{} (images read from {})", archive.display(), self.path().display())
        }
    }
}

/// Checks `read_image`'s arguments; returns the image length.
pub(crate) fn check_read(n: usize, hwc: [usize; 3], i: usize, out: &[u8]) -> Result<usize> {
    if i >= n {
        return Err(DataError::IndexOutOfRange { index: i, len: n });
    }
    let len = hwc.iter().product();
    if out.len() != len {
        return Err(DataError::BufferSize { what: "image buffer (H×W×C)", got: out.len(), expected: len });
    }
    Ok(len)
}

/// One image array opened for positioned reads.
#[derive(Debug)]
pub struct U8ImageFile {
    file: File,
    /// The file actually read (the archive, or the decompressed copy beside it).
    path: PathBuf,
    /// Byte offset of image 0.
    offset: u64,
    n: usize,
    /// (H, W, C).
    hwc: [usize; 3],
}

/// Counts the bytes a reader hands out (to learn the length of an `.npy` header).
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Checks an image array's header: uint8, C order, N×H×W×C with the given H, W, C.
fn check_header(path: &Path, name: &str, h: &NpyHeader, hwc: [usize; 3]) -> Result<usize> {
    let fmt = |m: String| DataError::format(path, format!("array `{name}`: {m}"));
    if h.dtype != DType::U8 {
        return Err(fmt(format!("dtype {}, expected uint8 (|u1)", h.dtype.descr())));
    }
    if h.fortran_order {
        return Err(fmt("stored in Fortran order, expected C order".into()));
    }
    if h.shape.len() != 4 || h.shape[1..] != hwc {
        return Err(fmt(format!("shape {:?}, expected (N, {}, {}, {})", h.shape, hwc[0], hwc[1], hwc[2])));
    }
    if h.shape[0] == 0 {
        return Err(fmt("holds no images".into()));
    }
    Ok(h.shape[0])
}

impl U8ImageFile {
    /// Opens array `name` of the `.npz` archive `path`, which must be uint8 N×H×W×C.
    pub fn open_npz_member(path: &Path, name: &str, hwc: [usize; 3]) -> Result<Self> {
        let fmt = |m: String| DataError::format(path, m);
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
        let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| fmt(format!("not a readable .npz (zip) archive: {e}")))?;
        let mut member = zip.by_name(&format!("{name}.npy")).map_err(|e| fmt(format!("array `{name}`: {e}")))?;
        let stored = member.compression() == zip::CompressionMethod::Stored;
        let member_size = member.size();
        let data_start = member.data_start();
        let mut counting = Counting { inner: &mut member, count: 0 };
        let header = read_header(&mut counting).map_err(|e| fmt(format!("array `{name}`: {e}")))?;
        let header_len = counting.count;
        let n = check_header(path, name, &header, hwc)?;
        let bytes = header.num_bytes() as u64;
        if member_size < header_len + bytes {
            return Err(fmt(format!("array `{name}` promises {bytes} bytes of images but its entry holds {}", member_size.saturating_sub(header_len))));
        }
        if stored {
            let start = data_start.ok_or_else(|| fmt(format!("array `{name}`: the zip entry's data offset is unknown")))? + header_len;
            if file_len < start + bytes {
                return Err(fmt(format!("array `{name}` is truncated: it needs {} bytes, the file has {file_len}", start + bytes)));
            }
            let file = File::open(path).map_err(|e| DataError::io(path, e))?;
            return Ok(U8ImageFile { file, path: path.to_path_buf(), offset: start, n, hwc });
        }
        drop(member);
        drop(zip);
        Self::open_decompressed_copy(path, name, hwc)
    }

    /// The path of the decompressed copy of a deflated array.
    pub fn decompressed_copy_path(path: &Path, name: &str) -> PathBuf {
        let stem = path.file_stem().map_or_else(|| "archive".into(), |s| s.to_string_lossy().into_owned());
        path.with_file_name(format!("{stem}.{name}.npy"))
    }

    fn open_decompressed_copy(path: &Path, name: &str, hwc: [usize; 3]) -> Result<Self> {
        let copy = Self::decompressed_copy_path(path, name);
        let newer = |a: &Path, b: &Path| -> bool {
            let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            matches!((m(a), m(b)), (Some(x), Some(y)) if x >= y)
        };
        if !(copy.is_file() && newer(&copy, path)) {
            Self::decompress(path, name, &copy)?;
        }
        Self::open_npy(&copy, hwc).or_else(|_| {
            // A copy that does not open (cut short by a full disk, say) is rebuilt once.
            Self::decompress(path, name, &copy)?;
            Self::open_npy(&copy, hwc)
        })
    }

    fn decompress(path: &Path, name: &str, copy: &Path) -> Result<()> {
        let fmt = |m: String| DataError::format(path, m);
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| fmt(format!("not a readable .npz (zip) archive: {e}")))?;
        let mut member = zip.by_name(&format!("{name}.npy")).map_err(|e| fmt(format!("array `{name}`: {e}")))?;
        let cant_write = |e: std::io::Error| DataError::Format {
            path: path.to_path_buf(),
            message: format!(
                "array `{name}` is deflate-compressed (np.savez_compressed), so it must be decompressed once for random access, but {} cannot be written ({e}); \
                 make that folder writable, or store the array uncompressed: python3 -c \"import numpy as n; d = n.load('IN.npz'); n.savez('OUT.npz', **d)\"",
                copy.display()
            ),
        };
        // Dropped on an error below, the temporary file is removed.
        let file = crate::atomic::AtomicFile::create(copy).map_err(cant_write)?;
        let tmp = file.temp_path().to_path_buf();
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let copied = std::io::copy(&mut member, &mut out).map_err(|e| fmt(format!("array `{name}`: decompressing: {e}")))?;
        let file = out.into_inner().map_err(|e| DataError::io(&tmp, e.into_error()))?;
        if copied != member.size() {
            return Err(fmt(format!("array `{name}` decompressed to {copied} bytes, its entry says {}", member.size())));
        }
        file.commit().map_err(|e| DataError::io(copy, e))
    }

    /// Opens a `.npy` file holding a uint8 N×H×W×C array.
    pub fn open_npy(path: &Path, hwc: [usize; 3]) -> Result<Self> {
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
        // Reads go through `&File` so the handle is kept for the positioned reads after.
        let mut counting = Counting { inner: std::io::BufReader::new(&file), count: 0 };
        let header = read_header(&mut counting).map_err(|e| DataError::format(path, e.to_string()))?;
        let start = counting.count;
        let n = check_header(path, "images", &header, hwc)?;
        let bytes = header.num_bytes() as u64;
        if file_len < start + bytes {
            return Err(DataError::format(path, format!("truncated: the images need {} bytes, the file has {file_len}", start + bytes)));
        }
        drop(counting);
        Ok(U8ImageFile { file, path: path.to_path_buf(), offset: start, n, hwc })
    }

    /// Images stored contiguously at `offset` of `path` (an uncompressed HDF5 dataset).
    pub fn at_offset(path: &Path, offset: u64, n: usize, hwc: [usize; 3]) -> Result<Self> {
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
        // A lying shape must not overflow into a small size that passes the check.
        let bytes = hwc.iter().try_fold(n as u64, |a, &d| a.checked_mul(d as u64)).and_then(|b| b.checked_add(offset));
        let Some(end) = bytes else {
            return Err(DataError::format(path, format!("{n} images of {hwc:?} bytes at offset {offset} are too large to exist")));
        };
        if file_len < end {
            return Err(DataError::format(path, format!("truncated: the images need {end} bytes, the file has {file_len}")));
        }
        Ok(U8ImageFile { file, path: path.to_path_buf(), offset, n, hwc })
    }
}

impl ImageStore for U8ImageFile {
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
        let len = check_read(self.n, self.hwc, i, out)?;
        let at = self.offset + (i * len) as u64;
        read_exact_at(&self.file, out, at).map_err(|e| DataError::io(&self.path, e))
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut at: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, at) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                at += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npy::{NpzEntry, write_npz, write_npz_stored};

    fn images(n: usize) -> Vec<u8> {
        (0..n * 2 * 3 * 3).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn stored_and_deflated_members_read_the_same_images() {
        let dir = tempfile::tempdir().unwrap();
        let data = images(5);
        let entry = [NpzEntry { name: "images", dtype: DType::U8, shape: &[5, 2, 3, 3], bytes: &data }];
        let stored = dir.path().join("stored.npz");
        let deflated = dir.path().join("deflated.npz");
        write_npz_stored(&stored, &entry).unwrap();
        write_npz(&deflated, &entry).unwrap();
        let a = U8ImageFile::open_npz_member(&stored, "images", [2, 3, 3]).unwrap();
        let b = U8ImageFile::open_npz_member(&deflated, "images", [2, 3, 3]).unwrap();
        assert_eq!(a.path(), stored);
        assert_eq!(b.path(), dir.path().join("deflated.images.npy"));
        let (mut x, mut y) = (vec![0u8; 18], vec![0u8; 18]);
        for i in 0..5 {
            a.read_image(i, &mut x).unwrap();
            b.read_image(i, &mut y).unwrap();
            assert_eq!(x, &data[i * 18..(i + 1) * 18]);
            assert_eq!(x, y);
        }
        assert!(matches!(a.read_image(5, &mut x), Err(DataError::IndexOutOfRange { .. })));
        // The copy is reused: reopening does not rewrite it.
        let before = std::fs::metadata(b.path()).unwrap().modified().unwrap();
        U8ImageFile::open_npz_member(&deflated, "images", [2, 3, 3]).unwrap();
        assert_eq!(std::fs::metadata(b.path()).unwrap().modified().unwrap(), before);
        // CHW conversion: channel 1 of pixel (0, 1) of image 2 is byte (0·3 + 1)·3 + 1.
        let mut f = vec![0f32; 18];
        a.write_chw_f32(2, &mut x, &mut f).unwrap();
        assert_eq!(f[6 + 1], data[2 * 18 + 4] as f32 / 255.0);
    }

    #[test]
    fn wrong_dtype_shape_or_truncation_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.npz");
        let data = images(2);
        write_npz_stored(&p, &[NpzEntry { name: "images", dtype: DType::U8, shape: &[2, 2, 3, 3], bytes: &data }]).unwrap();
        let err = U8ImageFile::open_npz_member(&p, "images", [64, 64, 3]).unwrap_err().to_string();
        assert!(err.contains("bad.npz") && err.contains("expected (N, 64, 64, 3)"), "{err}");
        assert!(U8ImageFile::open_npz_member(&p, "labels", [2, 3, 3]).unwrap_err().to_string().contains("labels"));
        let f32s = crate::npy::f32_bytes(&[0.0; 36]);
        write_npz_stored(&p, &[NpzEntry { name: "images", dtype: DType::F32, shape: &[2, 2, 3, 3], bytes: &f32s }]).unwrap();
        assert!(U8ImageFile::open_npz_member(&p, "images", [2, 3, 3]).unwrap_err().to_string().contains("expected uint8"));
        // A header promising more images than the entry holds.
        write_npz_stored(&p, &[NpzEntry { name: "images", dtype: DType::U8, shape: &[9, 2, 3, 3], bytes: &data }]).unwrap();
        let err = U8ImageFile::open_npz_member(&p, "images", [2, 3, 3]).unwrap_err().to_string();
        assert!(err.contains("promises 162 bytes"), "{err}");
        // A file cut short.
        write_npz_stored(&p, &[NpzEntry { name: "images", dtype: DType::U8, shape: &[2, 2, 3, 3], bytes: &data }]).unwrap();
        let full = std::fs::read(&p).unwrap();
        std::fs::write(&p, &full[..full.len() / 2]).unwrap();
        assert!(U8ImageFile::open_npz_member(&p, "images", [2, 3, 3]).is_err());
        // Contiguous images at an offset (HDF5): a short file and an impossible count are errors.
        assert!(U8ImageFile::at_offset(&p, 0, 1000, [64, 64, 3]).unwrap_err().to_string().contains("truncated"));
        assert!(U8ImageFile::at_offset(&p, 8, usize::MAX / 2, [64, 64, 3]).unwrap_err().to_string().contains("too large to exist"));
    }
}
