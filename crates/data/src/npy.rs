//! The NumPy `.npy` format (versions 1–3) and `.npz` archives of it, written by hand
//! because dSprites must be *streamed*: its `imgs` array is 3 GB decompressed, and we
//! bit-pack it row by row instead of ever holding it as bytes.

use std::io::{Read, Write};

/// Element types this project reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    Bool,
    U8,
    I8,
    I16,
    I32,
    I64,
    U16,
    U32,
    U64,
    F32,
    F64,
    /// Python objects (pickled): can be present (dSprites `metadata`) but never read.
    Object,
}

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::I16 | DType::U16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 | DType::Object => 8,
        }
    }
    pub fn descr(self) -> &'static str {
        match self {
            DType::Bool => "|b1",
            DType::U8 => "|u1",
            DType::I8 => "|i1",
            DType::I16 => "<i2",
            DType::I32 => "<i4",
            DType::I64 => "<i8",
            DType::U16 => "<u2",
            DType::U32 => "<u4",
            DType::U64 => "<u8",
            DType::F32 => "<f4",
            DType::F64 => "<f8",
            DType::Object => "|O",
        }
    }
    fn from_descr(d: &str) -> Option<DType> {
        // Little-endian or byte-order-free descriptors only; '=' means native, which
        // is little-endian on every machine we support.
        let d = d.replace('=', "<");
        Some(match d.as_str() {
            "|b1" => DType::Bool,
            "|u1" | "<u1" => DType::U8,
            "|i1" | "<i1" => DType::I8,
            "<i2" => DType::I16,
            "<i4" => DType::I32,
            "<i8" => DType::I64,
            "<u2" => DType::U16,
            "<u4" => DType::U32,
            "<u8" => DType::U64,
            "<f4" => DType::F32,
            "<f8" => DType::F64,
            "|O" | "<O" | "|O8" => DType::Object,
            _ => return None,
        })
    }
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64 | DType::U16 | DType::U32 | DType::U64
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    pub dtype: DType,
    pub fortran_order: bool,
    pub shape: Vec<usize>,
}

impl NpyHeader {
    pub fn num_elements(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn num_bytes(&self) -> usize {
        self.num_elements() * self.dtype.size()
    }
}

/// Errors of the format itself; callers attach the file and entry name.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    #[error("not an .npy stream: {0}")]
    Header(String),
    #[error("unsupported dtype {0:?}")]
    UnsupportedDType(String),
    #[error("truncated data: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads and parses the header, leaving `r` at the first data byte.
pub fn read_header(r: &mut impl Read) -> Result<NpyHeader, NpyError> {
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|_| NpyError::Header("file shorter than the .npy magic".into()))?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(NpyError::Header("missing \\x93NUMPY magic".into()));
    }
    let len = match magic[6] {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b)?;
            u16::from_le_bytes(b) as usize
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b)?;
            u32::from_le_bytes(b) as usize
        }
        v => return Err(NpyError::Header(format!("unknown format version {v}"))),
    };
    if len > 1 << 20 {
        return Err(NpyError::Header(format!("header length {len} is implausible")));
    }
    let mut text = vec![0u8; len];
    r.read_exact(&mut text)?;
    let text = String::from_utf8(text).map_err(|_| NpyError::Header("header is not text".into()))?;
    parse_header_dict(&text)
}

fn dict_value<'a>(text: &'a str, key: &str) -> Result<&'a str, NpyError> {
    let pat = format!("'{key}'");
    let start = text
        .find(&pat)
        .ok_or_else(|| NpyError::Header(format!("header has no '{key}'")))?;
    let rest = text[start + pat.len()..].trim_start();
    let rest = rest
        .strip_prefix(':')
        .ok_or_else(|| NpyError::Header(format!("malformed '{key}' entry")))?;
    Ok(rest.trim_start())
}

fn parse_header_dict(text: &str) -> Result<NpyHeader, NpyError> {
    let descr = dict_value(text, "descr")?;
    let quote = descr
        .chars()
        .next()
        .filter(|c| *c == '\'' || *c == '"')
        .ok_or_else(|| NpyError::UnsupportedDType(descr.chars().take(20).collect()))?;
    let end = descr[1..]
        .find(quote)
        .ok_or_else(|| NpyError::Header("unterminated descr".into()))?;
    let descr = &descr[1..1 + end];
    let dtype = DType::from_descr(descr).ok_or_else(|| NpyError::UnsupportedDType(descr.into()))?;

    let fo = dict_value(text, "fortran_order")?;
    let fortran_order = if fo.starts_with("True") {
        true
    } else if fo.starts_with("False") {
        false
    } else {
        return Err(NpyError::Header("fortran_order is neither True nor False".into()));
    };

    let shape = dict_value(text, "shape")?;
    let shape = shape
        .strip_prefix('(')
        .ok_or_else(|| NpyError::Header("shape is not a tuple".into()))?;
    let end = shape
        .find(')')
        .ok_or_else(|| NpyError::Header("unterminated shape tuple".into()))?;
    let shape = shape[..end]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| NpyError::Header(format!("bad dimension {s:?} in shape")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // A header can claim any shape; refuse one whose byte count does not even fit in memory
    // arithmetic, so no caller ever multiplies it out into an overflow.
    let bytes = shape.iter().try_fold(dtype.size(), |acc, &d| acc.checked_mul(d));
    if bytes.is_none_or(|b| b > isize::MAX as usize) {
        return Err(NpyError::Header(format!("shape {shape:?} of {} is too large to exist", dtype.descr())));
    }
    Ok(NpyHeader {
        dtype,
        fortran_order,
        shape,
    })
}

/// The data section's `n` bytes, read without trusting `n`: the buffer grows with what is
/// actually there, so a header that claims a huge shape over a small file costs no memory
/// and ends in a "truncated" error.
fn read_data(r: &mut impl Read, n: usize) -> Result<Vec<u8>, NpyError> {
    let mut bytes = Vec::with_capacity(n.min(1 << 24));
    r.take(n as u64).read_to_end(&mut bytes)?;
    if bytes.len() < n {
        return Err(NpyError::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("the header promises {n} bytes of data, the file holds {}", bytes.len()),
        )));
    }
    Ok(bytes)
}

/// Writes a version-1 header (version 2 if it would not fit), padded so data starts on
/// a 64-byte boundary as NumPy does.
pub fn write_header(w: &mut impl Write, dtype: DType, shape: &[usize]) -> std::io::Result<()> {
    let shape_text = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
        ),
    };
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        dtype.descr(),
        shape_text
    );
    let (version, prefix) = if dict.len() + 11 < 65_000 { (1u8, 10) } else { (2u8, 12) };
    let total = (prefix + dict.len() + 1).div_ceil(64) * 64;
    let pad = total - prefix - dict.len() - 1;
    let mut header = dict.into_bytes();
    header.extend(std::iter::repeat_n(b' ', pad));
    header.push(b'\n');
    w.write_all(b"\x93NUMPY")?;
    w.write_all(&[version, 0])?;
    if version == 1 {
        w.write_all(&(header.len() as u16).to_le_bytes())?;
    } else {
        w.write_all(&(header.len() as u32).to_le_bytes())?;
    }
    w.write_all(&header)
}

/// Reads the whole data section as integers (any integer or bool dtype) widened to i64.
pub fn read_as_i64(r: &mut impl Read, h: &NpyHeader) -> Result<Vec<i64>, NpyError> {
    let bytes = read_data(r, h.num_bytes())?;
    let s = h.dtype.size();
    let conv: fn(&[u8]) -> i64 = match h.dtype {
        DType::Bool | DType::U8 => |b| b[0] as i64,
        DType::I8 => |b| b[0] as i8 as i64,
        DType::I16 => |b| i16::from_le_bytes([b[0], b[1]]) as i64,
        DType::U16 => |b| u16::from_le_bytes([b[0], b[1]]) as i64,
        DType::I32 => |b| i32::from_le_bytes(b.try_into().unwrap()) as i64,
        DType::U32 => |b| u32::from_le_bytes(b.try_into().unwrap()) as i64,
        DType::I64 => |b| i64::from_le_bytes(b.try_into().unwrap()),
        // Beyond i64::MAX saturates (still a class no factor has, never a negative one).
        DType::U64 => |b| u64::from_le_bytes(b.try_into().unwrap()).min(i64::MAX as u64) as i64,
        other => return Err(NpyError::UnsupportedDType(other.descr().into())),
    };
    Ok(bytes.chunks_exact(s).map(conv).collect())
}

/// Reads the whole data section as f64 (float dtypes only).
pub fn read_as_f64(r: &mut impl Read, h: &NpyHeader) -> Result<Vec<f64>, NpyError> {
    let bytes = read_data(r, h.num_bytes())?;
    match h.dtype {
        DType::F64 => Ok(bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect()),
        DType::F32 => Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect()),
        other => Err(NpyError::UnsupportedDType(other.descr().into())),
    }
}

/// Encodes little-endian values for `write_header`'d data.
pub fn i64_bytes(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}
pub fn f64_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}
pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v1 .npy stream with any descriptor string (also ones we do not write).
    fn raw_npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn every_numpy_integer_and_float_dtype_reads_and_others_are_named() {
        // The classes 0, 1, 2 in every integer width and signedness, as numpy writes them.
        let cases: [(&str, Vec<u8>); 9] = [
            ("|i1", vec![0, 1, 2]),
            ("|u1", vec![0, 1, 2]),
            ("|b1", vec![0, 1, 1]),
            ("<i2", [0i16, 1, 2].iter().flat_map(|v| v.to_le_bytes()).collect()),
            ("<u2", [0u16, 1, 2].iter().flat_map(|v| v.to_le_bytes()).collect()),
            ("<i4", [0i32, 1, 2].iter().flat_map(|v| v.to_le_bytes()).collect()),
            ("<u4", [0u32, 1, 2].iter().flat_map(|v| v.to_le_bytes()).collect()),
            ("<i8", [0i64, 1, 2].iter().flat_map(|v| v.to_le_bytes()).collect()),
            ("<u8", [0u64, 1, 2].iter().flat_map(|v| v.to_le_bytes()).collect()),
        ];
        for (descr, data) in cases {
            let bytes = raw_npy(descr, "(3,)", &data);
            let mut r = bytes.as_slice();
            let h = read_header(&mut r).unwrap();
            let expected = if descr == "|b1" { vec![0, 1, 1] } else { vec![0, 1, 2] };
            assert_eq!(read_as_i64(&mut r, &h).unwrap(), expected, "{descr}");
        }
        // A uint64 beyond i64::MAX stays a (huge) class, not a negative number.
        let bytes = raw_npy("<u8", "(1,)", &u64::MAX.to_le_bytes());
        let mut r = bytes.as_slice();
        let h = read_header(&mut r).unwrap();
        assert_eq!(read_as_i64(&mut r, &h).unwrap(), vec![i64::MAX]);
        for (descr, data) in [("<f4", 1.5f32.to_le_bytes().to_vec()), ("<f8", 1.5f64.to_le_bytes().to_vec())] {
            let bytes = raw_npy(descr, "(1,)", &data);
            let mut r = bytes.as_slice();
            let h = read_header(&mut r).unwrap();
            assert_eq!(read_as_f64(&mut r, &h).unwrap(), vec![1.5], "{descr}");
        }
        // Half floats, complex numbers, big-endian data, strings: refused by name.
        for descr in ["<f2", "<c8", ">f8", ">i4", "<U5", "|S3"] {
            let bytes = raw_npy(descr, "(1,)", &[0; 16]);
            match read_header(&mut bytes.as_slice()) {
                Err(NpyError::UnsupportedDType(d)) => assert_eq!(d, descr),
                other => panic!("{descr}: {other:?}"),
            }
        }
    }

    #[test]
    fn header_round_trip_and_alignment() {
        for shape in [vec![737_280usize, 64, 64], vec![5], vec![3, 6]] {
            let mut buf = Vec::new();
            write_header(&mut buf, DType::I64, &shape).unwrap();
            assert_eq!(buf.len() % 64, 0, "data must start 64-byte aligned");
            let h = read_header(&mut buf.as_slice()).unwrap();
            assert_eq!(h.shape, shape);
            assert_eq!(h.dtype, DType::I64);
            assert!(!h.fortran_order);
        }
    }

    #[test]
    fn parses_numpy_written_headers() {
        // Exactly what numpy 1.x writes for np.zeros((2,3), np.uint8) and an object array.
        let text = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }";
        let h = parse_header_dict(text).unwrap();
        assert_eq!((h.dtype, h.shape.clone()), (DType::U8, vec![2, 3]));
        let h = parse_header_dict("{'descr': '|O', 'fortran_order': False, 'shape': (), }").unwrap();
        assert_eq!((h.dtype, h.num_elements()), (DType::Object, 1));
        assert!(matches!(
            parse_header_dict("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }"),
            Err(NpyError::UnsupportedDType(_))
        ));
        assert!(parse_header_dict("{'descr': '<f8', 'shape': (2,), }").is_err());
    }

    #[test]
    fn integer_widening() {
        let mut buf = Vec::new();
        write_header(&mut buf, DType::I64, &[3]).unwrap();
        buf.extend(i64_bytes(&[-1, 0, 40]));
        let mut r = buf.as_slice();
        let h = read_header(&mut r).unwrap();
        assert_eq!(read_as_i64(&mut r, &h).unwrap(), vec![-1, 0, 40]);
        // Truncated data is an error, not a panic.
        let mut r = &buf[..buf.len() - 3];
        let h = read_header(&mut r).unwrap();
        assert!(matches!(read_as_i64(&mut r, &h), Err(NpyError::Io(_))));
    }
}

/// A numeric array read from an `.npz` archive, widened to f64 or i64.
#[derive(Debug, Clone, PartialEq)]
pub enum NpzArray {
    Float { shape: Vec<usize>, data: Vec<f64> },
    Int { shape: Vec<usize>, data: Vec<i64> },
}

impl NpzArray {
    pub fn shape(&self) -> &[usize] {
        match self {
            NpzArray::Float { shape, .. } | NpzArray::Int { shape, .. } => shape,
        }
    }
}

/// Names of the arrays (entries `NAME.npy`) of an `.npz` file, in archive order.
pub fn npz_array_names(path: &std::path::Path) -> crate::Result<Vec<String>> {
    use crate::DataError;
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| DataError::format(path, format!("not a readable .npz (zip) archive: {e}")))?;
    Ok(zip.file_names().filter_map(|n| n.ok().and_then(|n| n.strip_suffix(".npy").map(str::to_string))).collect())
}

/// Reads array `name` (entry `name.npy`) of an `.npz` file, in C order whatever its storage order.
pub fn read_npz_array(path: &std::path::Path, name: &str) -> crate::Result<NpzArray> {
    use crate::DataError;
    let fmt = |m: String| DataError::format(path, m);
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| fmt(format!("not a readable .npz (zip) archive: {e}")))?;
    let mut f = zip.by_name(&format!("{name}.npy")).map_err(|e| fmt(format!("array `{name}`: {e}")))?;
    let h = read_header(&mut f).map_err(|e| fmt(format!("array `{name}`: {e}")))?;
    let reorder = |n: usize| -> Vec<usize> {
        // Index in storage order of each C-order element.
        if !h.fortran_order || h.shape.len() < 2 {
            return (0..n).collect();
        }
        let d = &h.shape;
        (0..n)
            .map(|mut i| {
                let mut idx = vec![0; d.len()];
                for k in (0..d.len()).rev() {
                    idx[k] = i % d[k];
                    i /= d[k];
                }
                let (mut off, mut stride) = (0, 1);
                for k in 0..d.len() {
                    off += idx[k] * stride;
                    stride *= d[k];
                }
                off
            })
            .collect()
    };
    if h.dtype.is_integer() || h.dtype == DType::Bool {
        let raw = read_as_i64(&mut f, &h).map_err(|e| fmt(format!("array `{name}`: {e}")))?;
        let data = reorder(raw.len()).into_iter().map(|i| raw[i]).collect();
        Ok(NpzArray::Int { shape: h.shape, data })
    } else if matches!(h.dtype, DType::F32 | DType::F64) {
        let raw = read_as_f64(&mut f, &h).map_err(|e| fmt(format!("array `{name}`: {e}")))?;
        let data = reorder(raw.len()).into_iter().map(|i| raw[i]).collect();
        Ok(NpzArray::Float { shape: h.shape, data })
    } else {
        Err(fmt(format!("array `{name}` has dtype {}, expected a number type", h.dtype.descr())))
    }
}

/// One array to write with [`write_npz`]: name, dtype, shape and little-endian bytes.
pub struct NpzEntry<'a> {
    pub name: &'a str,
    pub dtype: DType,
    pub shape: &'a [usize],
    pub bytes: &'a [u8],
}

/// Writes a deflate-compressed `.npz` (as `np.savez_compressed`), atomically.
pub fn write_npz(path: &std::path::Path, entries: &[NpzEntry<'_>]) -> crate::Result<()> {
    write_npz_with(path, entries, zip::CompressionMethod::Deflated)
}

/// Writes an uncompressed `.npz` (as `np.savez`), atomically: the layout large image arrays
/// need to be read image by image in place (`image_file`). Entries over 4 GB get zip64 records.
pub fn write_npz_stored(path: &std::path::Path, entries: &[NpzEntry<'_>]) -> crate::Result<()> {
    write_npz_with(path, entries, zip::CompressionMethod::Stored)
}

fn write_npz_with(path: &std::path::Path, entries: &[NpzEntry<'_>], method: zip::CompressionMethod) -> crate::Result<()> {
    let mut w = NpzWriter::create(path, method)?;
    for e in entries {
        w.start(e.name, e.dtype, e.shape)?;
        w.write(e.bytes)?;
    }
    w.finish()
}

/// An `.npz` written array by array, so a generator can stream gigabytes of images into it
/// without holding them: [`NpzWriter::start`] an array, [`NpzWriter::write`] its bytes in C
/// order, then [`NpzWriter::finish`] (which renames the temporary file into place).
pub struct NpzWriter {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    zip: zip::ZipWriter<std::io::BufWriter<crate::atomic::AtomicFile>>,
    method: zip::CompressionMethod,
}

impl NpzWriter {
    pub fn create(path: &std::path::Path, method: zip::CompressionMethod) -> crate::Result<Self> {
        let file = crate::atomic::AtomicFile::create(path).map_err(|e| crate::DataError::io(path, e))?;
        let tmp = file.temp_path().to_path_buf();
        Ok(NpzWriter { path: path.to_path_buf(), zip: zip::ZipWriter::new(std::io::BufWriter::with_capacity(1 << 20, file)), tmp, method })
    }

    pub fn start(&mut self, name: &str, dtype: DType, shape: &[usize]) -> crate::Result<()> {
        let bytes = shape.iter().try_fold(dtype.size(), |a, &d| a.checked_mul(d));
        let opts = zip::write::SimpleFileOptions::default().compression_method(self.method).large_file(bytes.is_none_or(|b| b >= 0xFFFF_0000));
        self.zip.start_file(format!("{name}.npy"), opts).map_err(|e| crate::DataError::format(&self.tmp, format!("writing zip: {e}")))?;
        write_header(&mut self.zip, dtype, shape).map_err(|e| crate::DataError::io(&self.tmp, e))
    }

    pub fn write(&mut self, bytes: &[u8]) -> crate::Result<()> {
        self.zip.write_all(bytes).map_err(|e| crate::DataError::io(&self.tmp, e))
    }

    pub fn finish(self) -> crate::Result<()> {
        let tmp = self.tmp;
        let w = self.zip.finish().map_err(|e| crate::DataError::format(&tmp, format!("writing zip: {e}")))?;
        let file = w.into_inner().map_err(|e| crate::DataError::io(&tmp, e.into_error()))?;
        file.commit().map_err(|e| crate::DataError::io(&self.path, e))
    }
}

#[cfg(test)]
mod npz_tests {
    use super::*;

    #[test]
    fn npz_round_trip_with_int_and_float_arrays() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("codes.npz");
        let codes: Vec<f32> = vec![0.5, -1.0, 2.0, 3.5, 0.0, 1.0];
        let factors: Vec<i64> = vec![0, 1, 2, 3, 4, 5];
        write_npz(&p, &[
            NpzEntry { name: "codes", dtype: DType::F32, shape: &[3, 2], bytes: &f32_bytes(&codes) },
            NpzEntry { name: "factors", dtype: DType::I64, shape: &[2, 3], bytes: &i64_bytes(&factors) },
        ])
        .unwrap();
        assert_eq!(
            read_npz_array(&p, "codes").unwrap(),
            NpzArray::Float { shape: vec![3, 2], data: codes.iter().map(|&v| v as f64).collect() }
        );
        assert_eq!(read_npz_array(&p, "factors").unwrap(), NpzArray::Int { shape: vec![2, 3], data: factors });
        assert!(read_npz_array(&p, "missing").is_err());
    }

    #[test]
    fn a_header_claiming_a_huge_shape_is_an_error_not_an_allocation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lying.npz");
        // 8 TB promised (the shape that used to abort the process), 16 bytes present.
        let bytes = f64_bytes(&[1.0, 2.0]);
        write_npz(&p, &[
            NpzEntry { name: "codes", dtype: DType::F64, shape: &[1_000_000, 1_000_000], bytes: &bytes },
            NpzEntry { name: "factors", dtype: DType::I64, shape: &[usize::MAX / 4, 8], bytes: &bytes },
        ])
        .unwrap();
        let err = read_npz_array(&p, "codes").unwrap_err().to_string();
        assert!(err.contains("lying.npz") && err.contains("promises 8000000000000 bytes") && err.contains("holds 16"), "{err}");
        let err = read_npz_array(&p, "factors").unwrap_err().to_string();
        assert!(err.contains("too large to exist"), "{err}");
    }
}
