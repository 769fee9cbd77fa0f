//! The loaders against small files written in the exact official layouts, and against
//! damaged files of every kind we can think of: each must give a typed error, not a panic.

use std::io::Write;
use std::path::Path;

use disentangle_data::cars3d_official::{AZIMUTHS, ELEVATIONS, SOURCE_SIZE};
use disentangle_data::cars3d_procedural::{CarModel, model_arrays, model_name};
use disentangle_data::mat::{self, MatVar};
use disentangle_data::npy::{self, DType};
use disentangle_data::{
    Cars3d, DSpritesGrid, DSpritesOfficial, DSpritesProcedural, DataError, FactorDataset, generate_cars3d,
    open_dataset, write_cars3d_dir,
};

const GRID: DSpritesGrid = DSpritesGrid([3, 2, 3, 4, 2]);

fn small_npz(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("small.npz");
    DSpritesProcedural::with_grid(GRID).unwrap().write_npz(&path).unwrap();
    path
}

#[test]
fn dsprites_npz_round_trip_through_the_official_loader() {
    let dir = tempfile::tempdir().unwrap();
    let generator = DSpritesProcedural::with_grid(GRID).unwrap();
    let loaded = DSpritesOfficial::load(&small_npz(dir.path())).unwrap();
    // `color` (one value) is dropped: the usual 5-factor view.
    assert_eq!(loaded.factors().names(), &["shape", "scale", "orientation", "pos_x", "pos_y"]);
    assert_eq!(loaded.factors().sizes(), &GRID.0);
    assert_eq!(loaded.observation_shape(), [1, 64, 64]);
    let all: Vec<usize> = (0..generator.num_observations()).flat_map(|i| generator.factors().factors_of(i).unwrap()).collect();
    assert_eq!(loaded.observations(&all).unwrap(), generator.observations(&all).unwrap());
    // latents_values hold the physical values: scales 0.5 and 1.0, angle 2π last, positions 0…1.
    let v = loaded.factor_values();
    assert_eq!(v[1], vec![0.5, 1.0]);
    assert!((v[2][2] - 2.0 * std::f64::consts::PI).abs() < 1e-12);
    assert_eq!(v[3], vec![0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]);
    // Bit-packed: 64 bytes of pixels (+4 bytes of row map) per image.
    assert_eq!(loaded.resident_bytes(), generator.num_observations() * (512 + 4));
}

/// An npz assembled entry by entry, like NumPy's `savez_compressed`, with options to break it.
struct Npz {
    entries: Vec<(String, Vec<u8>)>,
}

impl Npz {
    fn array(mut self, name: &str, dtype: DType, shape: &[usize], data: Vec<u8>) -> Self {
        let mut b = Vec::new();
        npy::write_header(&mut b, dtype, shape).unwrap();
        b.extend(data);
        self.entries.push((format!("{name}.npy"), b));
        self
    }
    fn write(&self, path: &Path) {
        let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        let o = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in &self.entries {
            z.start_file(name.as_str(), o).unwrap();
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap();
    }
}

/// A 2-shape × 2-position grid (4 images of 4×4) with rows in shuffled order and the pickled
/// metadata entry first, as a third-party writer might produce.
fn shuffled_npz(classes: &[[i64; 6]], imgs: &[u8]) -> Npz {
    let n = classes.len();
    let flat: Vec<i64> = classes.iter().flatten().copied().collect();
    let values: Vec<f64> = flat.iter().map(|&c| c as f64 * 0.5).collect();
    Npz { entries: vec![] }
        .array("metadata", DType::Object, &[], b"\x80\x02}q\x00.".to_vec())
        .array("latents_values", DType::F64, &[n, 6], npy::f64_bytes(&values))
        .array("imgs", DType::U8, &[n, 4, 4], imgs.to_vec())
        .array("latents_classes", DType::I64, &[n, 6], npy::i64_bytes(&flat))
}

const ROWS: [[i64; 6]; 4] = [[0, 1, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1]];

fn one_hot_images() -> Vec<u8> {
    // Image r has only pixel r on.
    (0..4).flat_map(|r| (0..16).map(move |p| (p == r) as u8)).collect()
}

#[test]
fn rows_in_any_order_and_object_metadata_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shuffled.npz");
    shuffled_npz(&ROWS, &one_hot_images()).write(&path);
    let d = DSpritesOfficial::load(&path).unwrap();
    assert_eq!(d.factors().sizes(), &[2, 1, 1, 1, 2]);
    // Factor vector (shape 1, pos_y 0) is file row 2, whose only lit pixel is pixel 2.
    let obs = d.observations(&[1, 0, 0, 0, 0]).unwrap();
    assert_eq!(obs.iter().position(|&v| v == 1.0), Some(2));
    let obs = d.observations(&[0, 0, 0, 0, 1]).unwrap();
    assert_eq!(obs.iter().position(|&v| v == 1.0), Some(3));
}

fn format_error_of(path: &Path) -> String {
    match DSpritesOfficial::load(path) {
        Err(DataError::Format { path: p, message }) => {
            assert_eq!(p, path);
            message
        }
        Err(other) => panic!("expected a format error, got {other}"),
        Ok(_) => panic!("damaged file {} loaded", path.display()),
    }
}

#[test]
fn damaged_dsprites_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let good = small_npz(dir.path());
    let bytes = std::fs::read(&good).unwrap();

    // Truncated anywhere: at the central directory, inside the images, inside the header.
    for (i, cut) in [bytes.len() - 10, bytes.len() / 2, 200, 20].into_iter().enumerate() {
        let t = p(&format!("trunc{i}.npz"));
        std::fs::write(&t, &bytes[..cut]).unwrap();
        format_error_of(&t);
    }
    // Not a zip at all.
    std::fs::write(p("text.npz"), "hello").unwrap();
    assert!(format_error_of(&p("text.npz")).contains("zip"));
    // Corrupted compressed bytes in the middle of the image entry.
    let mut corrupt = bytes.clone();
    for b in &mut corrupt[300..340] {
        *b ^= 0x5a;
    }
    std::fs::write(p("corrupt.npz"), &corrupt).unwrap();
    format_error_of(&p("corrupt.npz"));

    let imgs = one_hot_images();
    let flat: Vec<i64> = ROWS.iter().flatten().copied().collect();
    // Wrong dtype of imgs.
    let mut npz = shuffled_npz(&ROWS, &imgs);
    npz.entries.retain(|(n, _)| n != "imgs.npy");
    let f: Vec<f32> = imgs.iter().map(|&v| v as f32).collect();
    npz.array("imgs", DType::F32, &[4, 4, 4], npy::f32_bytes(&f)).write(&p("f32.npz"));
    assert!(format_error_of(&p("f32.npz")).contains("`imgs` has dtype <f4"));
    // Wrong dtype of latents_classes.
    let mut npz = shuffled_npz(&ROWS, &imgs);
    npz.entries.retain(|(n, _)| n != "latents_classes.npy");
    let fc: Vec<f64> = flat.iter().map(|&c| c as f64).collect();
    npz.array("latents_classes", DType::F64, &[4, 6], npy::f64_bytes(&fc)).write(&p("fclass.npz"));
    assert!(format_error_of(&p("fclass.npz")).contains("latents_classes"));
    // Wrong shapes.
    let mut npz = shuffled_npz(&ROWS, &imgs);
    npz.entries.retain(|(n, _)| n != "imgs.npy");
    npz.array("imgs", DType::U8, &[4, 16], imgs.clone()).write(&p("flat.npz"));
    assert!(format_error_of(&p("flat.npz")).contains("shape"));
    let mut npz = shuffled_npz(&ROWS, &imgs);
    npz.entries.retain(|(n, _)| n != "latents_classes.npy");
    let five: Vec<i64> = ROWS.iter().flat_map(|r| r[1..].to_vec()).collect();
    npz.array("latents_classes", DType::I64, &[4, 5], npy::i64_bytes(&five)).write(&p("five.npz"));
    assert!(format_error_of(&p("five.npz")).contains("(N, 6)"));
    // Declared shape larger than the data (truncated entry).
    let mut npz = shuffled_npz(&ROWS, &imgs);
    npz.entries.retain(|(n, _)| n != "imgs.npy");
    npz.array("imgs", DType::U8, &[4, 4, 4], imgs[..40].to_vec()).write(&p("short.npz"));
    assert!(format_error_of(&p("short.npz")).contains("truncated"));
    // Non-binary pixels.
    let mut two = imgs.clone();
    two[5] = 2;
    shuffled_npz(&ROWS, &two).write(&p("two.npz"));
    assert!(format_error_of(&p("two.npz")).contains("0 or 1"));
    // Missing entry.
    let mut npz = shuffled_npz(&ROWS, &imgs);
    npz.entries.retain(|(n, _)| n != "imgs.npy");
    npz.write(&p("noimgs.npz"));
    assert!(format_error_of(&p("noimgs.npz")).contains("imgs"));
    // Duplicate factor combination, and a grid with a hole.
    let mut dup = ROWS;
    dup[3] = dup[0];
    shuffled_npz(&dup, &imgs).write(&p("dup.npz"));
    format_error_of(&p("dup.npz"));
    shuffled_npz(&ROWS[..3], &imgs[..48]).write(&p("hole.npz"));
    assert!(format_error_of(&p("hole.npz")).contains("grid"));
    // Negative class.
    let mut neg = ROWS;
    neg[0][1] = -1;
    shuffled_npz(&neg, &imgs).write(&p("neg.npz"));
    format_error_of(&p("neg.npz"));
    // Missing file: an I/O error naming the file.
    assert!(matches!(DSpritesOfficial::load(&p("nope.npz")), Err(DataError::Io { .. })));
}

#[test]
fn cars3d_folder_round_trip_matches_the_generator() {
    let dir = tempfile::tempdir().unwrap();
    write_cars3d_dir(dir.path(), 2, 0).unwrap();
    let listed = std::fs::read_to_string(dir.path().join("list.txt")).unwrap();
    assert_eq!(listed, "car_001_mesh.mat\ncar_002_mesh.mat\n");
    let loaded = Cars3d::load_dir(dir.path()).unwrap();
    let generated = generate_cars3d(2, 0).unwrap();
    assert_eq!(loaded.factors().names(), &["elevation", "azimuth", "object"]);
    assert_eq!(loaded.factors().sizes(), &[4, 24, 2]);
    assert_eq!(loaded.observation_shape(), [3, 64, 64]);
    for i in 0..loaded.num_observations() {
        assert_eq!(loaded.image_u8(i), generated.image_u8(i), "image {i}");
    }
    let obs = loaded.observations(&[3, 23, 1]).unwrap();
    assert!(obs.iter().all(|v| (0.0..=1.0).contains(v)));
    // White background in the corner, something darker in the middle.
    assert_eq!(obs[0], 1.0);
    assert!(obs[32 * 64 + 32] < 0.9);
}

#[test]
fn cars3d_object_order_follows_list_txt_else_sorted_names() {
    let dir = tempfile::tempdir().unwrap();
    write_cars3d_dir(dir.path(), 3, 5).unwrap();
    let sorted = Cars3d::load_dir(dir.path()).unwrap();
    std::fs::write(dir.path().join("list.txt"), "car_003_mesh\ncar_001_mesh.mat\ncar_002_mesh.mat\n").unwrap();
    let listed = Cars3d::load_dir(dir.path()).unwrap();
    assert_eq!(listed.object_names(), &["car_003_mesh", "car_001_mesh", "car_002_mesh"]);
    let idx = |d: &Cars3d, o| d.factors().index_of(&[1, 7, o]).unwrap();
    assert_eq!(listed.image_u8(idx(&listed, 0)), sorted.image_u8(idx(&sorted, 2)));
    std::fs::remove_file(dir.path().join("list.txt")).unwrap();
    let unlisted = Cars3d::load_dir(dir.path()).unwrap();
    assert_eq!(unlisted.object_names(), &["car_001_mesh", "car_002_mesh", "car_003_mesh"]);
    // A list naming a missing file is an error naming list.txt.
    std::fs::write(dir.path().join("list.txt"), "car_009_mesh\n").unwrap();
    let err = Cars3d::load_dir(dir.path()).err().unwrap().to_string();
    assert!(err.contains("list.txt") && err.contains("car_009_mesh"), "{err}");
}

#[test]
fn cars3d_uncompressed_elements_load_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (im, _) = model_arrays(&CarModel::generate(0, 0));
    let s = SOURCE_SIZE;
    let dims = [s, s, 3, AZIMUTHS, ELEVATIONS];
    mat::write_mat(
        &dir.path().join("a.mat"),
        &[MatVar { name: "im", dims: &dims, data: &im, compressed: false }],
    )
    .unwrap();
    let plain = Cars3d::load_dir(dir.path()).unwrap();
    let generated = generate_cars3d(1, 0).unwrap();
    for i in 0..plain.num_observations() {
        assert_eq!(plain.image_u8(i), generated.image_u8(i));
    }
}

#[test]
fn damaged_cars3d_files_are_typed_errors() {
    let s = SOURCE_SIZE;
    let (im, _) = model_arrays(&CarModel::generate(0, 0));
    let check = |name: &str, bytes: &[u8], needle: &str| {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join(format!("{name}.mat"));
        std::fs::write(&f, bytes).unwrap();
        match Cars3d::load_dir(dir.path()) {
            Err(DataError::Format { path, message }) => {
                assert_eq!(path, f, "{name}");
                assert!(message.contains(needle), "{name}: {message}");
            }
            Err(e) => panic!("{name}: wrong error {e}"),
            Ok(_) => panic!("{name}: loaded"),
        }
    };
    let dims = [s, s, 3, AZIMUTHS, ELEVATIONS];
    let good = mat::mat_bytes(&[MatVar { name: "im", dims: &dims, data: &im, compressed: true }]);
    check("truncated", &good[..good.len() / 2], "truncated");
    let mut corrupt = good.clone();
    for b in &mut corrupt[200..260] {
        *b = !*b;
    }
    check("corrupt", &corrupt, "corrupt");
    check("tiny", b"MATLAB", "header");
    // Wrong shape: the 128×128 views stored as 64×256.
    let wrong = [64, 256, 3, AZIMUTHS, ELEVATIONS];
    check("shape", &mat::mat_bytes(&[MatVar { name: "im", dims: &wrong, data: &im, compressed: true }]), "dimensions");
    // Wrong variable name.
    check("name", &mat::mat_bytes(&[MatVar { name: "img", dims: &dims, data: &im, compressed: false }]), "`im`");
    // Wrong class: flip the class byte of an uncompressed uint8 array to double (6).
    let mut double = mat::mat_bytes(&[MatVar { name: "im", dims: &[2, 2], data: &[1, 2, 3, 4], compressed: false }]);
    assert_eq!(double[128 + 16], 9);
    double[128 + 16] = 6;
    check("double", &double, "double");
}

#[test]
fn registry_names_and_helpful_missing_file_messages() {
    let empty = tempfile::tempdir().unwrap();
    let d = open_dataset("dsprites", None).unwrap();
    assert_eq!((d.name(), d.num_observations()), ("dsprites", 737_280));
    let c = open_dataset("cars3d:2", None).unwrap();
    assert_eq!(c.factors().sizes(), &[4, 24, 2]);

    let msg = open_dataset("dsprites-official", Some(empty.path())).err().unwrap().to_string();
    assert!(msg.contains("deepmind/dsprites-dataset") && msg.contains("--dataset dsprites"), "{msg}");
    assert!(msg.contains(&format!("{}", empty.path().join("dsprites").display())), "{msg}");
    let msg = open_dataset("cars3d-official", Some(empty.path())).err().unwrap().to_string();
    assert!(msg.contains("nips2015-analogy-data.tar.gz") && msg.contains("--dataset cars3d"), "{msg}");
    assert!(matches!(open_dataset("dsprites-official", None), Err(DataError::NoDataDir { .. })));
    assert!(matches!(open_dataset("mnist", None), Err(DataError::UnknownDataset(_))));
    assert!(matches!(open_dataset("cars3d:lots", None), Err(DataError::InvalidParameter { .. })));
    assert!(matches!(open_dataset("missing/file.npz", None), Err(DataError::Io { .. })));

    // The data-folder convention: DIR/dsprites/<official name>, DIR/cars/.
    std::fs::create_dir_all(empty.path().join("dsprites")).unwrap();
    let official = empty.path().join("dsprites").join(disentangle_data::dsprites_official::DSPRITES_FILE_NAME);
    DSpritesProcedural::with_grid(GRID).unwrap().write_npz(&official).unwrap();
    let d = open_dataset("dsprites-official", Some(empty.path())).unwrap();
    assert_eq!(d.factors().sizes(), &GRID.0);
    write_cars3d_dir(&empty.path().join("cars"), 1, 0).unwrap();
    let c = open_dataset("cars3d-official", Some(empty.path())).unwrap();
    assert_eq!((c.name(), c.factors().sizes()), ("cars3d-official", &[4usize, 24, 1][..]));
    let _ = model_name(0);
}
