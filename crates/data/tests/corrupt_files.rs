//! Every reader of a file format, fed corrupted versions of a valid file (truncated, bytes
//! flipped, 8-byte runs overwritten with huge values to make sizes lie), must return Ok or a
//! typed error: no panic, no abort from a huge allocation, no hang. proptest draws the
//! corruptions (seeded from the test name, so a failure reproduces).

use std::path::Path;

use disentangle_data::dsprites_official::{DSpritesFileContents, DSpritesOfficial, write_dsprites_npz};
use disentangle_data::mat::{MatVar, mat_bytes, parse_mat};
use disentangle_data::npy::{DType, NpzEntry, f32_bytes, i64_bytes, npz_array_names, read_header, read_npz_array, write_npz};
use proptest::prelude::*;

/// A corruption of a byte string.
#[derive(Debug, Clone)]
enum Corruption {
    Truncate(f64),
    Flip { at: f64, mask: u8 },
    /// Eight bytes at `at` replaced by `value` (little-endian): a length or shape that lies.
    Lie { at: f64, value: u64 },
}

fn corruption() -> impl Strategy<Value = Corruption> {
    prop_oneof![
        (0.0..1.0).prop_map(Corruption::Truncate),
        (0.0..1.0, 1u8..=255).prop_map(|(at, mask)| Corruption::Flip { at, mask }),
        (0.0..1.0, prop_oneof![Just(u64::MAX), Just(1u64 << 40), Just(u32::MAX as u64), 0u64..1 << 20])
            .prop_map(|(at, value)| Corruption::Lie { at, value }),
    ]
}

fn corrupt(bytes: &[u8], corruptions: &[Corruption]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for c in corruptions {
        if b.is_empty() {
            break;
        }
        let pos = |at: f64, len: usize| ((at * len as f64) as usize).min(len - 1);
        match *c {
            Corruption::Truncate(at) => b.truncate(pos(at, b.len())),
            Corruption::Flip { at, mask } => {
                let i = pos(at, b.len());
                b[i] ^= mask;
            }
            Corruption::Lie { at, value } => {
                let i = pos(at, b.len());
                for (k, byte) in value.to_le_bytes().iter().enumerate() {
                    if let Some(slot) = b.get_mut(i + k) {
                        *slot = *byte;
                    }
                }
            }
        }
    }
    b
}

fn codes_npz(path: &Path) -> Vec<u8> {
    let codes: Vec<f32> = (0..24).map(|i| i as f32 * 0.5).collect();
    let factors: Vec<i64> = (0..24).map(|i| i % 3).collect();
    write_npz(path, &[
        NpzEntry { name: "codes", dtype: DType::F32, shape: &[12, 2], bytes: &f32_bytes(&codes) },
        NpzEntry { name: "factors", dtype: DType::I64, shape: &[12, 2], bytes: &i64_bytes(&factors) },
    ])
    .unwrap();
    std::fs::read(path).unwrap()
}

fn dsprites_npz(path: &Path) -> Vec<u8> {
    // A 1×1×2×2×2 grid of 4×4 images, in the official layout.
    let n = 8;
    let classes: Vec<i64> = (0..n).flat_map(|i| [0, 0, 0, (i / 4) % 2, (i / 2) % 2, i % 2]).collect();
    let values: Vec<f64> = classes.iter().map(|&c| c as f64).collect();
    let contents = DSpritesFileContents { height: 4, width: 4, latents_classes: &classes, latents_values: &values, description: "test" };
    write_dsprites_npz(path, &contents, |i, buf| buf.iter_mut().enumerate().for_each(|(j, b)| *b = ((i + j) % 2) as u8)).unwrap();
    std::fs::read(path).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn corrupt_codes_npz_is_an_error_or_valid(c in proptest::collection::vec(corruption(), 1..4)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codes.npz");
        let good = codes_npz(&path);
        std::fs::write(&path, corrupt(&good, &c)).unwrap();
        let _ = npz_array_names(&path);
        for name in ["codes", "factors", "missing"] {
            if let Err(e) = read_npz_array(&path, name) {
                prop_assert!(e.to_string().contains("codes.npz"), "error does not name the file: {e}");
            }
        }
    }

    #[test]
    fn corrupt_npy_headers_are_errors_not_allocations(c in proptest::collection::vec(corruption(), 1..4)) {
        let mut good = Vec::new();
        disentangle_data::npy::write_header(&mut good, DType::F64, &[737_280, 64, 64]).unwrap();
        let bad = corrupt(&good, &c);
        if let Ok(h) = read_header(&mut bad.as_slice()) {
            // A header that parses must describe a size that exists.
            prop_assert!(h.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).is_some());
        }
    }

    #[test]
    fn corrupt_dsprites_file_is_an_error_or_valid(c in proptest::collection::vec(corruption(), 1..4)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dsprites.npz");
        let good = dsprites_npz(&path);
        std::fs::write(&path, corrupt(&good, &c)).unwrap();
        if let Err(e) = DSpritesOfficial::load(&path) {
            prop_assert!(e.to_string().contains("dsprites.npz"), "error does not name the file: {e}");
        }
    }

    #[test]
    fn corrupt_mat_files_are_errors_or_valid(c in proptest::collection::vec(corruption(), 1..4), compressed: bool) {
        let data: Vec<u8> = (0..4 * 4 * 3 * 2).map(|i| i as u8).collect();
        let good = mat_bytes(&[MatVar { name: "im", dims: &[4, 4, 3, 2], data: &data, compressed }]);
        let _ = parse_mat(Path::new("car.mat"), &corrupt(&good, &c));
    }
}

#[test]
fn nested_compression_is_refused_not_recursed() {
    // A compressed element whose inflated content is itself a compressed element, 50 deep.
    use std::io::Write;
    let data = [1u8, 2, 3, 4];
    let plain = mat_bytes(&[MatVar { name: "im", dims: &[2, 2], data: &data, compressed: true }]);
    let mut element = plain[128..].to_vec();
    for _ in 0..50 {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&element).unwrap();
        let z = z.finish().unwrap();
        element = [15u32.to_le_bytes(), (z.len() as u32).to_le_bytes()].concat();
        element.extend(z);
    }
    let file = [&plain[..128], &element[..]].concat();
    let err = parse_mat(Path::new("deep.mat"), &file).unwrap_err().to_string();
    assert!(err.contains("deep.mat") && err.contains("nested"), "{err}");
}
