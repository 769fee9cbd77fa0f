//! Official-size dataset files for tests, written sparse: MPI3D's 5.7 / 12.7 GB `.npz` and
//! SmallNORB's 2 × 448 MB image files take a few kilobytes of disk, so loaders (and training
//! and evaluation on them) can be tested on files in the exact official layouts and sizes.
//! Images are black except the ones a test marks.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use crate::npy::{DType, write_header};
use crate::smallnorb::{CHUNKS, MAGIC_I32, MAGIC_U8, write_matrix_header};

const PAIR: usize = 2 * 96 * 96;

/// CRC-32 state of `len` zero bytes, by doubling (the files below are gigabytes of zeros).
fn zeros(len: u64) -> crc32fast::Hasher {
    const BLOCK: u64 = 1 << 16;
    let mut pow = crc32fast::Hasher::new();
    pow.update(&[0u8; BLOCK as usize]);
    let mut out = crc32fast::Hasher::new();
    let mut n = len / BLOCK;
    while n > 0 {
        if n & 1 == 1 {
            out.combine(&pow);
        }
        let p = pow.clone();
        pow.combine(&p);
        n >>= 1;
    }
    out.update(&vec![0u8; (len % BLOCK) as usize]);
    out
}

/// Writes an MPI3D-layout `.npz` (one stored zip64 entry `images.npy`, N×64×64×3 uint8) whose
/// images are all zero except `marked` ones, as a sparse file.
pub fn write_sparse_mpi3d(path: &Path, n: usize, marked: &[(usize, Vec<u8>)]) -> std::io::Result<()> {
    let mut header = Vec::new();
    write_header(&mut header, DType::U8, &[n, 64, 64, 3])?;
    let image = 64 * 64 * 3;
    let data_len = (header.len() + n * image) as u64;
    // CRC of header, then zeros and marked images in order.
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header);
    let mut at = 0u64;
    for (i, bytes) in marked {
        let start = (*i * image) as u64;
        crc.combine(&zeros(start - at));
        crc.update(bytes);
        at = start + image as u64;
    }
    crc.combine(&zeros((n * image) as u64 - at));
    let crc = crc.finalize();

    let name = b"images.npy";
    let mut local = Vec::new();
    {
        let v = 0x0403_4b50u32;
        local.extend(v.to_le_bytes());
    }
    for v in [45u16, 0, 0, 0, 0x21] {
        local.extend(v.to_le_bytes());
    }
    local.extend(crc.to_le_bytes());
    local.extend(u32::MAX.to_le_bytes());
    local.extend(u32::MAX.to_le_bytes());
    local.extend((name.len() as u16).to_le_bytes());
    local.extend(20u16.to_le_bytes());
    local.extend(name);
    local.extend(1u16.to_le_bytes());
    local.extend(16u16.to_le_bytes());
    local.extend(data_len.to_le_bytes());
    local.extend(data_len.to_le_bytes());

    let mut f = File::create(path)?;
    f.write_all(&local)?;
    f.write_all(&header)?;
    let data_at = (local.len() + header.len()) as u64;
    for (i, bytes) in marked {
        f.seek(SeekFrom::Start(data_at + (*i * image) as u64))?;
        f.write_all(bytes)?;
    }
    let cd_at = local.len() as u64 + data_len;
    let mut cd = Vec::new();
    cd.extend(0x0201_4b50u32.to_le_bytes());
    for v in [45u16, 45, 0, 0, 0, 0x21] {
        cd.extend(v.to_le_bytes());
    }
    cd.extend(crc.to_le_bytes());
    cd.extend(u32::MAX.to_le_bytes());
    cd.extend(u32::MAX.to_le_bytes());
    for v in [name.len() as u16, 28, 0, 0, 0] {
        cd.extend(v.to_le_bytes());
    }
    cd.extend(0u32.to_le_bytes());
    cd.extend(u32::MAX.to_le_bytes());
    cd.extend(name);
    cd.extend(1u16.to_le_bytes());
    cd.extend(24u16.to_le_bytes());
    cd.extend(data_len.to_le_bytes());
    cd.extend(data_len.to_le_bytes());
    cd.extend(0u64.to_le_bytes());
    let eocd64_at = cd_at + cd.len() as u64;
    let mut tail = Vec::new();
    tail.extend(0x0606_4b50u32.to_le_bytes());
    tail.extend(44u64.to_le_bytes());
    tail.extend(45u16.to_le_bytes());
    tail.extend(45u16.to_le_bytes());
    tail.extend(0u32.to_le_bytes());
    tail.extend(0u32.to_le_bytes());
    tail.extend(1u64.to_le_bytes());
    tail.extend(1u64.to_le_bytes());
    tail.extend((cd.len() as u64).to_le_bytes());
    tail.extend(cd_at.to_le_bytes());
    tail.extend(0x0706_4b50u32.to_le_bytes());
    tail.extend(0u32.to_le_bytes());
    tail.extend(eocd64_at.to_le_bytes());
    tail.extend(1u32.to_le_bytes());
    tail.extend(0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, 1, 1] {
        tail.extend(v.to_le_bytes());
    }
    tail.extend((cd.len() as u32).to_le_bytes());
    tail.extend(u32::MAX.to_le_bytes());
    tail.extend(0u16.to_le_bytes());
    f.seek(SeekFrom::Start(cd_at))?;
    f.write_all(&cd)?;
    f.write_all(&tail)?;
    f.flush()
}

/// The official split: instances 4, 6, 7, 8, 9 train, 0, 1, 2, 3, 5 test.
pub const SMALLNORB_SETS: [[usize; 5]; 2] = [[4, 6, 7, 8, 9], [0, 1, 2, 3, 5]];

/// (category, instance, elevation, azimuth 0…34 even, lighting) rows of one set, in file order
/// (the testing set reversed, so the loader cannot rely on any order).
pub fn smallnorb_rows(set: usize) -> Vec<[i32; 5]> {
    let mut out = Vec::new();
    for c in 0..5 {
        for &i in &SMALLNORB_SETS[set] {
            for e in 0..9 {
                for a in 0..18 {
                    for l in 0..6 {
                        out.push([c, i as i32, e, 2 * a, l]);
                    }
                }
            }
        }
    }
    if set == 1 {
        out.reverse();
    }
    out
}

/// An int32 binary-matrix file.
pub fn write_smallnorb_ints(path: &Path, dims: &[usize], values: &[i32]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(File::create(path)?);
    write_matrix_header(&mut f, MAGIC_I32, dims)?;
    for v in values {
        f.write_all(&v.to_le_bytes())?;
    }
    f.flush()
}

/// The six SmallNORB files at their official sizes in `dir`, written sparse; the left image of
/// a row is filled with `value(row)` where that is Some, every other image is black.
pub fn write_sparse_smallnorb(dir: &Path, value: impl Fn(&[i32; 5]) -> Option<u8>) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (set, chunk) in CHUNKS.iter().enumerate() {
        let rows = smallnorb_rows(set);
        let n = rows.len();
        write_smallnorb_ints(&dir.join(format!("{chunk}-cat.mat")), &[n], &rows.iter().map(|r| r[0]).collect::<Vec<_>>())?;
        write_smallnorb_ints(&dir.join(format!("{chunk}-info.mat")), &[n, 4], &rows.iter().flat_map(|r| [r[1], r[2], r[3], r[4]]).collect::<Vec<_>>())?;
        let mut f = File::create(dir.join(format!("{chunk}-dat.mat")))?;
        write_matrix_header(&mut f, MAGIC_U8, &[n, 2, 96, 96])?;
        let start = f.stream_position()?;
        for (i, r) in rows.iter().enumerate() {
            if let Some(v) = value(r) {
                f.seek(SeekFrom::Start(start + (i * PAIR) as u64))?;
                f.write_all(&vec![v; 96 * 96])?;
                // The right camera's image differs: only the left one is used.
                f.write_all(&vec![255 - v; 96 * 96])?;
            }
        }
        f.set_len(start + (n * PAIR) as u64)?;
    }
    Ok(())
}
