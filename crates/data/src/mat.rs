//! MATLAB level-5 `.mat` files (the format of the Cars3D release): a reader for numeric
//! arrays, including zlib-compressed (`miCOMPRESSED`) elements and the small-element
//! encoding, and a writer for uint8 arrays. Written here rather than taken from a crate
//! because we also need to *write* the format (procedural Cars3D) and want every
//! malformed byte to become a typed error, never a panic. Only the parts of the format
//! that numeric arrays use are implemented; cell, struct and sparse arrays are skipped.

use std::io::{Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

use crate::error::{DataError, Result};

const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
/// MATLAB's array class number for uint8 arrays.
pub const MX_UINT8_CLASS: u8 = 9;
/// Refuse to inflate a compressed element beyond this (corrupt-file and zip-bomb guard; an
/// official Cars3D model inflates to 4.7 MB).
const MAX_INFLATED: u64 = 1 << 28;
/// MATLAB writes one level of compression; deeper nesting is a corrupt (or hostile) file, and
/// unbounded nesting would overflow the stack.
const MAX_NESTING: usize = 2;

/// A numeric array from a `.mat` file. `data` holds the real part, column-major as
/// MATLAB stores it, and is present only for uint8 arrays (the only class we need).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatArray {
    pub name: String,
    /// MATLAB class number (6 = double, 9 = uint8, …).
    pub class: u8,
    pub dims: Vec<usize>,
    pub data: Option<Vec<u8>>,
}

pub fn class_name(class: u8) -> &'static str {
    match class {
        1 => "cell",
        2 => "struct",
        4 => "char",
        5 => "sparse",
        6 => "double",
        7 => "single",
        8 => "int8",
        9 => "uint8",
        10 => "int16",
        11 => "uint16",
        12 => "int32",
        13 => "uint32",
        14 => "int64",
        15 => "uint64",
        _ => "unknown",
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    big_endian: bool,
}

impl Parser<'_> {
    fn u32_at(&self, pos: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(pos..pos + 4)?.try_into().ok()?;
        Some(if self.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }

    /// Reads the tag at `pos`: (type, data range, position of the next element).
    fn tag(&self, pos: usize) -> std::result::Result<(u32, std::ops::Range<usize>, usize), String> {
        let first = self.u32_at(pos).ok_or("element tag runs past the end of the data (truncated)")?;
        if first >> 16 != 0 {
            // Small data element: type and size packed in one word, data in the next 4 bytes.
            let (ty, n) = (first & 0xffff, (first >> 16) as usize);
            if n > 4 || pos + 8 > self.bytes.len() {
                return Err("malformed small data element".into());
            }
            return Ok((ty, pos + 4..pos + 4 + n, pos + 8));
        }
        let n = self.u32_at(pos + 4).ok_or("element tag runs past the end (truncated)")? as usize;
        let start = pos + 8;
        let end = start.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
            format!("element of {n} bytes at offset {pos} runs past the end of the data (truncated)")
        })?;
        // Compressed elements are not padded; all others are padded to 8 bytes.
        let next = if first == MI_COMPRESSED { end } else { start + n.div_ceil(8) * 8 };
        Ok((first, start..end, next))
    }

    /// All arrays in `self.bytes` from `pos` on.
    fn elements(&self, mut pos: usize, out: &mut Vec<MatArray>, depth: usize) -> std::result::Result<(), String> {
        while pos < self.bytes.len() {
            if self.bytes.len() - pos < 8 {
                // Trailing padding after the last element is harmless.
                if self.bytes[pos..].iter().all(|&b| b == 0) {
                    break;
                }
                return Err("trailing bytes after the last element (truncated?)".into());
            }
            let (ty, range, next) = self.tag(pos)?;
            match ty {
                MI_COMPRESSED => {
                    if depth >= MAX_NESTING {
                        return Err(format!("compressed element at offset {pos} nested {depth} deep (corrupt)"));
                    }
                    let mut inflated = Vec::new();
                    ZlibDecoder::new(&self.bytes[range])
                        .take(MAX_INFLATED + 1)
                        .read_to_end(&mut inflated)
                        .map_err(|e| format!("compressed element at offset {pos} is corrupt: {e}"))?;
                    if inflated.len() as u64 > MAX_INFLATED {
                        return Err(format!("compressed element at offset {pos} inflates beyond {MAX_INFLATED} bytes"));
                    }
                    Parser {
                        bytes: &inflated,
                        big_endian: self.big_endian,
                    }
                    .elements(0, out, depth + 1)?;
                }
                MI_MATRIX => {
                    if let Some(a) = self.matrix(range)? {
                        out.push(a);
                    }
                }
                _ => {} // other top-level elements carry no arrays we read
            }
            pos = next.min(self.bytes.len());
        }
        Ok(())
    }

    fn matrix(&self, range: std::ops::Range<usize>) -> std::result::Result<Option<MatArray>, String> {
        if range.is_empty() {
            return Ok(None); // MATLAB writes empty matrices as zero-length elements
        }
        let sub = Parser {
            bytes: &self.bytes[range],
            big_endian: self.big_endian,
        };
        let (ty, flags, pos) = sub.tag(0)?;
        if ty != MI_UINT32 || flags.len() < 8 {
            return Err("array flags sub-element is missing".into());
        }
        let flag_word = sub.u32_at(flags.start).ok_or("array flags truncated")?;
        let class = (flag_word & 0xff) as u8;
        let complex = flag_word & 0x800 != 0;
        let (ty, dims_range, pos) = sub.tag(pos)?;
        if ty != MI_INT32 || dims_range.len() % 4 != 0 || dims_range.is_empty() {
            return Err("dimensions sub-element is missing or malformed".into());
        }
        let dims: Vec<usize> = dims_range
            .clone()
            .step_by(4)
            .map(|p| sub.u32_at(p).map(|d| d as i32))
            .collect::<Option<Vec<_>>>()
            .ok_or("dimensions truncated")?
            .into_iter()
            .map(|d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
            .collect::<std::result::Result<_, _>>()?;
        let (ty, name_range, pos) = sub.tag(pos)?;
        if ty != MI_INT8 {
            return Err("array name sub-element is missing".into());
        }
        let name = String::from_utf8_lossy(&sub.bytes[name_range]).into_owned();
        if !(6..=15).contains(&class) {
            // cell, struct, object, char, sparse: not numeric, nothing we read.
            return Ok(Some(MatArray { name, class, dims, data: None }));
        }
        let count = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or("array dimensions overflow")?;
        let (ty, real, _) = sub.tag(pos)?;
        let data = if class == MX_UINT8_CLASS && !complex {
            if ty != MI_UINT8 {
                return Err(format!("uint8 array `{name}` stored with element type {ty}, expected miUINT8 (2)"));
            }
            if real.len() != count {
                return Err(format!(
                    "array `{name}` has {} bytes of data for dimensions {dims:?} ({count} values)",
                    real.len()
                ));
            }
            Some(sub.bytes[real].to_vec())
        } else {
            None
        };
        Ok(Some(MatArray { name, class, dims, data }))
    }
}

/// Parses the bytes of a level-5 MAT-file; `origin` names it in errors.
pub fn parse_mat(origin: &Path, bytes: &[u8]) -> Result<Vec<MatArray>> {
    let err = |m: String| DataError::format(origin, m);
    if bytes.starts_with(b"MATLAB 7.3") {
        return Err(err("MATLAB v7.3 (HDF5) files are not supported; save with -v7 or -v6".into()));
    }
    if bytes.len() < 128 {
        return Err(err(format!("only {} bytes: shorter than a MAT-file header", bytes.len())));
    }
    let big_endian = match &bytes[126..128] {
        b"IM" => false,
        b"MI" => true,
        _ => return Err(err("not a MATLAB level-5 MAT-file (bad endian indicator)".into())),
    };
    let mut out = Vec::new();
    Parser { bytes, big_endian }.elements(128, &mut out, 0).map_err(err)?;
    Ok(out)
}

/// Reads the uint8 array `name` from a MAT-file.
pub fn read_mat_u8(path: &Path, name: &str) -> Result<MatArray> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let arrays = parse_mat(path, &bytes)?;
    let a = arrays
        .into_iter()
        .find(|a| a.name == name)
        .ok_or_else(|| DataError::format(path, format!("no variable `{name}` in the MAT-file")))?;
    if a.class != MX_UINT8_CLASS || a.data.is_none() {
        return Err(DataError::format(
            path,
            format!("variable `{name}` is {} (class {}), expected uint8", class_name(a.class), a.class),
        ));
    }
    Ok(a)
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend(v.to_le_bytes());
}

fn put_element(out: &mut Vec<u8>, ty: u32, data: &[u8]) {
    if data.len() <= 4 {
        // Small data element format, as MATLAB writes short names.
        put_u32(out, ty | (data.len() as u32) << 16);
        out.extend(data);
        out.extend(std::iter::repeat_n(0, 4 - data.len()));
    } else {
        put_u32(out, ty);
        put_u32(out, data.len() as u32);
        out.extend(data);
        out.extend(std::iter::repeat_n(0, data.len().div_ceil(8) * 8 - data.len()));
    }
}

/// The miMATRIX element of a real uint8 array.
fn matrix_element(name: &str, dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(data.len() + 64);
    put_u32(&mut body, MI_UINT32);
    put_u32(&mut body, 8);
    put_u32(&mut body, MX_UINT8_CLASS as u32);
    put_u32(&mut body, 0);
    let dims: Vec<u8> = dims.iter().flat_map(|&d| (d as i32).to_le_bytes()).collect();
    put_element(&mut body, MI_INT32, &dims);
    put_element(&mut body, MI_INT8, name.as_bytes());
    put_element(&mut body, MI_UINT8, data);
    let mut el = Vec::with_capacity(body.len() + 8);
    put_u32(&mut el, MI_MATRIX);
    put_u32(&mut el, body.len() as u32);
    el.extend(body);
    el
}

/// One uint8 variable to write: name, dimensions (MATLAB order) and column-major data.
pub struct MatVar<'a> {
    pub name: &'a str,
    pub dims: &'a [usize],
    pub data: &'a [u8],
    /// Store as a zlib-compressed element (what MATLAB's default -v7 does).
    pub compressed: bool,
}

/// Serialises uint8 variables as a little-endian level-5 MAT-file.
pub fn mat_bytes(vars: &[MatVar<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut text = b"MATLAB 5.0 MAT-file, Platform: disentangle, Created by: disentangle data generate".to_vec();
    text.resize(116, b' ');
    out.extend(text);
    out.extend([0u8; 8]); // no subsystem data
    out.extend(0x0100u16.to_le_bytes());
    out.extend(b"IM");
    for v in vars {
        assert_eq!(v.dims.iter().product::<usize>(), v.data.len(), "dims match data");
        let el = matrix_element(v.name, v.dims, v.data);
        if v.compressed {
            let mut z = ZlibEncoder::new(Vec::new(), Compression::fast());
            z.write_all(&el).expect("writing to memory");
            let z = z.finish().expect("writing to memory");
            put_u32(&mut out, MI_COMPRESSED);
            put_u32(&mut out, z.len() as u32);
            out.extend(z);
        } else {
            out.extend(el);
        }
    }
    out
}

/// Writes a MAT-file atomically (temporary file, then rename).
pub fn write_mat(path: &Path, vars: &[MatVar<'_>]) -> Result<()> {
    crate::atomic::write_atomic(path, &mat_bytes(vars)).map_err(|e| DataError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<usize>, Vec<u8>) {
        let dims = vec![4, 3, 2];
        let data = (0..24u8).map(|v| v.wrapping_mul(37)).collect();
        (dims, data)
    }

    #[test]
    fn round_trip_compressed_and_plain() {
        let (dims, data) = sample();
        let bytes = mat_bytes(&[
            MatVar { name: "im", dims: &dims, data: &data, compressed: true },
            MatVar { name: "mask", dims: &[5, 1], data: &[1, 0, 1, 1, 0], compressed: false },
        ]);
        let arrays = parse_mat(Path::new("x.mat"), &bytes).unwrap();
        assert_eq!(arrays.len(), 2);
        assert_eq!((arrays[0].name.as_str(), &arrays[0].dims), ("im", &dims));
        assert_eq!(arrays[0].data.as_deref(), Some(&data[..]));
        assert_eq!(arrays[1].data.as_deref(), Some(&[1u8, 0, 1, 1, 0][..]));
    }

    #[test]
    fn independent_reader_agrees() {
        // The `matfile` crate (an independent implementation) reads what we write.
        let (dims, data) = sample();
        for compressed in [false, true] {
            let bytes = mat_bytes(&[MatVar { name: "im", dims: &dims, data: &data, compressed }]);
            let mf = matfile::MatFile::parse(&bytes[..]).unwrap();
            let arr = mf.find_by_name("im").unwrap();
            assert_eq!(arr.size(), &dims);
            match arr.data() {
                matfile::NumericData::UInt8 { real, .. } => assert_eq!(real, &data),
                other => panic!("wrong class {other:?}"),
            }
        }
    }

    #[test]
    fn big_endian_files_parse() {
        // A hand-built big-endian file with one 2×1 uint8 array named "a".
        let mut b = vec![b' '; 116];
        b.extend([0u8; 8]);
        b.extend([1, 0]);
        b.extend(b"MI");
        let be = |v: u32| v.to_be_bytes();
        let mut body = Vec::new();
        body.extend(be(MI_UINT32));
        body.extend(be(8));
        body.extend(be(MX_UINT8_CLASS as u32));
        body.extend(be(0));
        body.extend(be(MI_INT32));
        body.extend(be(8));
        body.extend(be(2));
        body.extend(be(1));
        body.extend(be(MI_INT8 | 1 << 16));
        body.extend([b'a', 0, 0, 0]);
        body.extend(be(MI_UINT8 | 2 << 16));
        body.extend([7, 9, 0, 0]);
        b.extend(be(MI_MATRIX));
        b.extend(be(body.len() as u32));
        b.extend(body);
        let arrays = parse_mat(Path::new("be.mat"), &b).unwrap();
        assert_eq!(arrays[0].dims, vec![2, 1]);
        assert_eq!(arrays[0].data.as_deref(), Some(&[7u8, 9][..]));
    }

    #[test]
    fn damaged_files_are_errors_not_panics() {
        let (dims, data) = sample();
        for compressed in [false, true] {
            let bytes = mat_bytes(&[MatVar { name: "im", dims: &dims, data: &data, compressed }]);
            // Every truncation point, and every single-byte corruption, must be handled.
            for cut in 0..bytes.len() {
                let _ = parse_mat(Path::new("t.mat"), &bytes[..cut]);
                if cut < bytes.len() - 8 && cut > 0 {
                    assert!(parse_mat(Path::new("t.mat"), &bytes[..cut]).is_err() || cut < 136, "cut {cut}");
                }
            }
            for i in 128..bytes.len() {
                let mut b = bytes.clone();
                b[i] ^= 0xa5;
                let _ = parse_mat(Path::new("c.mat"), &b);
            }
        }
        assert!(matches!(
            parse_mat(Path::new("h5.mat"), b"MATLAB 7.3 MAT-file, HDF5"),
            Err(DataError::Format { .. })
        ));
        let mut bad = mat_bytes(&[]);
        bad[126] = b'X';
        assert!(parse_mat(Path::new("e.mat"), &bad).is_err());
    }
}
