//! Shapes3D and MPI3D from files in the official layouts: small Shapes3D grids written the
//! way disentanglement_lib's converted file is, and MPI3D files at their real sizes (5.7 and
//! 12.7 GB), written sparse so that they take a few kilobytes of disk.

use std::path::{Path, PathBuf};

use disentangle_data::npy::{self, DType, NpzEntry};
use disentangle_data::shapes3d_procedural::label_value;
use disentangle_data::{FactorDataset, Mpi3d, Shapes3d, Shapes3dProcedural, open_dataset, write_shapes3d_npz};

const GRID: [usize; 6] = [2, 2, 2, 2, 4, 3];

fn all_factors(d: &dyn FactorDataset) -> Vec<usize> {
    (0..d.num_observations()).flat_map(|i| d.factors().factors_of(i).unwrap()).collect()
}

#[test]
fn shapes3d_npz_round_trip_through_the_official_loader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("3dshapes.npz");
    let generator = Shapes3dProcedural::with_grid(GRID).unwrap();
    write_shapes3d_npz(&path, &generator).unwrap();
    let loaded = Shapes3d::load(&path).unwrap();
    assert_eq!(loaded.factors().names(), &["floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"]);
    assert_eq!(loaded.factors().sizes(), &GRID);
    assert_eq!(loaded.observation_shape(), [3, 64, 64]);
    // The labels hold the official values of the picked classes.
    assert_eq!(loaded.values()[0], vec![label_value(0, 0), label_value(0, 9)]);
    assert_eq!(loaded.values()[5], vec![-30.0, 0.0, 30.0]);
    assert_eq!(loaded.values()[4], vec![0.0, 1.0, 2.0, 3.0]);
    let all = all_factors(&loaded);
    assert_eq!(loaded.observations(&all).unwrap(), generator.observations(&all).unwrap());
    // Nothing but the grid is held in memory.
    assert!(loaded.resident_bytes() < 1024);

    // The same arrays deflated (np.savez_compressed): decompressed once beside the file.
    let images = npy::read_npz_array(&path, "labels").unwrap();
    let npy::NpzArray::Float { data: labels, .. } = images else { panic!("float labels") };
    let mut bytes = vec![0u8; generator.num_observations() * 64 * 64 * 3];
    for (i, f) in all.chunks(6).enumerate() {
        generator.write_image_u8(f, &mut bytes[i * 12288..(i + 1) * 12288]);
    }
    let deflated = dir.path().join("deflated.npz");
    let n = generator.num_observations();
    npy::write_npz(&deflated, &[
        NpzEntry { name: "images", dtype: DType::U8, shape: &[n, 64, 64, 3], bytes: &bytes },
        NpzEntry { name: "labels", dtype: DType::F64, shape: &[n, 6], bytes: &npy::f64_bytes(&labels) },
    ])
    .unwrap();
    let from_deflated = Shapes3d::load(&deflated).unwrap();
    assert!(from_deflated.source().contains("deflated.images.npy"), "{}", from_deflated.source());
    assert_eq!(from_deflated.observations(&all).unwrap(), generator.observations(&all).unwrap());

    // By name from the data folder (disentanglement_lib's location), and by path.
    let official = dir.path().join("3dshapes").join(disentangle_data::shapes3d_official::SHAPES3D_FILE_NAME);
    std::fs::create_dir_all(official.parent().unwrap()).unwrap();
    std::fs::copy(&path, &official).unwrap();
    let by_name = open_dataset("shapes3d-official", Some(dir.path())).unwrap();
    assert_eq!(by_name.factors().sizes(), &GRID);
    let by_path = open_dataset(path.to_str().unwrap(), None).unwrap();
    assert_eq!(by_path.name(), "shapes3d-official");
    assert_eq!(disentangle_data::dataset_channels(path.to_str().unwrap()), 3);
    assert_eq!(disentangle_data::dataset_channels("shapes3d"), 3);
}

fn write_labels_and_images(path: &Path, labels: &[f64], label_shape: &[usize], images: &[u8], image_shape: &[usize], image_dtype: DType) {
    npy::write_npz_stored(path, &[
        NpzEntry { name: "images", dtype: image_dtype, shape: image_shape, bytes: images },
        NpzEntry { name: "labels", dtype: DType::F64, shape: label_shape, bytes: &npy::f64_bytes(labels) },
    ])
    .unwrap();
}

fn error_of(path: &Path) -> String {
    match Shapes3d::load(path) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn damaged_shapes3d_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.npz");
    let g = Shapes3dProcedural::with_grid([1, 1, 1, 1, 2, 2]).unwrap();
    let labels: Vec<f64> = all_factors(&g).chunks(6).flat_map(|f| g.labels(f)).collect();
    let images = vec![7u8; 4 * 12288];

    write_labels_and_images(&p, &labels, &[4, 6], &images, &[4, 64, 64, 3], DType::U8);
    assert!(Shapes3d::load(&p).is_ok());
    // Labels of the wrong width.
    write_labels_and_images(&p, &labels[..20], &[4, 5], &images, &[4, 64, 64, 3], DType::U8);
    assert!(error_of(&p).contains("expected (N, 6)"));
    // Rows out of the row-major order.
    let mut swapped = labels.clone();
    for j in 0..6 {
        swapped.swap(6 + j, 18 + j);
    }
    write_labels_and_images(&p, &swapped, &[4, 6], &images, &[4, 64, 64, 3], DType::U8);
    let e = error_of(&p);
    assert!(e.contains("bad.npz") && e.contains("row 1"), "{e}");
    // Fewer images than label rows.
    write_labels_and_images(&p, &labels, &[4, 6], &images[..3 * 12288], &[3, 64, 64, 3], DType::U8);
    assert!(error_of(&p).contains("3 images but 4 label rows"));
    // Images of the wrong size or type.
    write_labels_and_images(&p, &labels, &[4, 6], &images[..4 * 4096], &[4, 64, 64, 1], DType::U8);
    assert!(error_of(&p).contains("expected (N, 64, 64, 3)"));
    write_labels_and_images(&p, &labels, &[4, 6], &images, &[4, 32, 32, 3], DType::F32);
    assert!(error_of(&p).contains("expected uint8"));
    // Cut short: an error, not a crash.
    write_labels_and_images(&p, &labels, &[4, 6], &images, &[4, 64, 64, 3], DType::U8);
    let full = std::fs::read(&p).unwrap();
    for cut in [100, full.len() / 3, full.len() - 10] {
        std::fs::write(&p, &full[..cut]).unwrap();
        let _ = error_of(&p);
    }
    // Missing file, by name: says where it belongs and what to use instead.
    let e = open_dataset("shapes3d-official", Some(dir.path())).err().unwrap().to_string();
    assert!(e.contains("3dshapes/3dshapes.h5") && e.contains("3dshapes/look-at-object-room") && e.contains("--dataset shapes3d"), "{e}");
}

fn mpi3d_file(dir: &Path, relative: &str, n: usize, marked: &[(usize, Vec<u8>)]) -> PathBuf {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    disentangle_data::sparse_fixtures::write_sparse_mpi3d(&path, n, marked).unwrap();
    path
}

#[test]
fn mpi3d_files_at_their_official_sizes_index_row_major() {
    let dir = tempfile::tempdir().unwrap();
    let pattern = |seed: u8| (0..12288).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1).collect::<Vec<u8>>();
    for (n, sizes) in [(460_800usize, [4usize, 4, 2, 3, 3, 40, 40]), (1_036_800, [6, 6, 2, 3, 3, 40, 40])] {
        // Marked: the first image, the last, and one with every factor off zero.
        let probe = [1usize, 2, 1, 2, 1, 17, 33];
        let space = disentangle_data::FactorSpace::new(&["a", "b", "c", "d", "e", "f", "g"], &sizes).unwrap();
        let probe_index = space.index_of(&probe).unwrap();
        let marked = vec![(0, pattern(1)), (probe_index, pattern(2)), (n - 1, pattern(3))];
        let path = mpi3d_file(dir.path(), "mpi3d_toy/mpi3d_toy.npz", n, &marked);
        // Sparse: the 5.7 / 12.7 GB file takes little disk.
        let meta = std::fs::metadata(&path).unwrap();
        assert!(meta.len() > (n * 12288) as u64);
        #[cfg(unix)]
        assert!(std::os::unix::fs::MetadataExt::blocks(&meta) * 512 < 1 << 20, "not sparse");
        let d = Mpi3d::load(&path, "mpi3d-toy").unwrap();
        assert_eq!(d.factors().sizes(), &sizes);
        assert_eq!(d.factors().names()[0], "object_color");
        let last: Vec<usize> = sizes.iter().map(|s| s - 1).collect();
        let batch: Vec<usize> = [vec![0; 7], probe.to_vec(), last, vec![0, 0, 0, 0, 0, 0, 1]].concat();
        let obs = d.observations(&batch).unwrap();
        for (b, seed) in [(0, 1u8), (1, 2), (2, 3)] {
            let want = pattern(seed);
            let got = &obs[b * 12288..(b + 1) * 12288];
            // CHW floats of the HWC bytes.
            for p in [0usize, 1, 4095] {
                for c in 0..3 {
                    assert_eq!(got[c * 4096 + p], want[p * 3 + c] as f32 / 255.0, "image {b} pixel {p} channel {c}");
                }
            }
        }
        assert!(obs[3 * 12288..].iter().all(|&v| v == 0.0));
        // By name from the data folder.
        let by_name = open_dataset("mpi3d-toy", Some(dir.path())).unwrap();
        assert_eq!((by_name.name(), by_name.num_observations()), ("mpi3d-toy", n));
        std::fs::remove_file(&path).unwrap();
    }
    // Any other count is not MPI3D.
    let small = dir.path().join("mpi3d_real.npz");
    npy::write_npz_stored(&small, &[NpzEntry { name: "images", dtype: DType::U8, shape: &[2, 64, 64, 3], bytes: &[0u8; 2 * 12288] }]).unwrap();
    let e = open_dataset(small.to_str().unwrap(), None).err().unwrap().to_string();
    assert!(e.contains("mpi3d_real.npz") && e.contains("holds 2 images") && e.contains("460800"), "{e}");
    let e = open_dataset("mpi3d-realistic", Some(dir.path())).err().unwrap().to_string();
    assert!(e.contains("mpi3d_realistic/mpi3d_realistic.npz"), "{e}");
}

/// DeepMind's `3dshapes.h5` layout (datasets `images` N×64×64×3 uint8, `labels` N×6), in files
/// written by h5py (`scripts/make-hdf5-fixtures.py`): contiguous; chunked; chunked with gzip and
/// shuffle; gzip with float32 labels; the newest file format (`libver="latest"`). A 2 × 1 × 1 ×
/// 3 × 1 × 1 grid whose image i is the pattern (31 i + 7 y + 3 x + 11 c) mod 256.
#[cfg(feature = "hdf5")]
#[test]
fn shapes3d_h5_written_by_h5py_in_every_layout_loads_the_same_images() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let want: Vec<f32> = (0..6usize)
        .flat_map(|i| {
            // Observations are C×H×W in [0, 1].
            (0..3usize).flat_map(move |c| (0..64usize).flat_map(move |y| (0..64usize).map(move |x| ((31 * i + 7 * y + 3 * x + 11 * c) % 256) as f32 / 255.0)))
        })
        .collect();
    for name in ["3dshapes-contiguous.h5", "3dshapes-chunked.h5", "3dshapes-gzip.h5", "3dshapes-gzip-f32-labels.h5", "3dshapes-latest.h5"] {
        let path = fixtures.join(name);
        let d = Shapes3d::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.factors().sizes(), &[2, 1, 1, 3, 1, 1], "{name}");
        // Class v of factor j has the label 0.1 v + j (float32 labels widen to within 1e-7).
        assert!((d.values()[3][2] - 3.2).abs() < 1e-6, "{name}: {:?}", d.values());
        assert_eq!(disentangle_data::dataset_channels(path.to_str().unwrap()), 3);
        let all = all_factors(&d);
        let got = d.observations(&all).unwrap();
        assert!(got.len() == want.len() && got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6), "{name}: images differ");
    }
    // By name: DIR/3dshapes/3dshapes.h5.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("3dshapes")).unwrap();
    std::fs::copy(fixtures.join("3dshapes-gzip.h5"), dir.path().join("3dshapes/3dshapes.h5")).unwrap();
    assert_eq!(open_dataset("shapes3d-official", Some(dir.path())).unwrap().num_observations(), 6);
    // Damaged: not HDF5, a wrong element type, files cut short (contiguous and compressed).
    let bad = dir.path().join("bad.h5");
    std::fs::write(&bad, b"not an hdf5 file").unwrap();
    assert!(Shapes3d::load(&bad).err().unwrap().to_string().contains("bad.h5"));
    let e = Shapes3d::load(&fixtures.join("3dshapes-f32-images.h5")).err().unwrap().to_string();
    assert!(e.contains("expected uint8") && e.contains("3dshapes-f32-images.h5"), "{e}");
    for name in ["3dshapes-contiguous.h5", "3dshapes-gzip.h5"] {
        let full = std::fs::read(fixtures.join(name)).unwrap();
        for cut in [full.len() / 2, full.len() - 100, 100] {
            std::fs::write(&bad, &full[..cut]).unwrap();
            let e = Shapes3d::load(&bad).err().unwrap_or_else(|| panic!("{name} cut at {cut} loaded")).to_string();
            assert!(e.contains("bad.h5"), "{name} cut at {cut}: {e}");
        }
    }
}
