//! SmallNORB from the six files in the official binary-matrix format, at their real sizes
//! (24,300 stereo pairs each; the image files are written sparse), and damaged copies.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use disentangle_data::smallnorb::CHUNKS;
use disentangle_data::{SmallNorb, open_dataset};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use disentangle_data::sparse_fixtures::{smallnorb_rows as rows, write_smallnorb_ints, write_sparse_smallnorb};

fn write_ints(path: &Path, dims: &[usize], values: &[i32]) {
    write_smallnorb_ints(path, dims, values).unwrap();
}

fn write_norb(dir: &Path, value: impl Fn(&[i32; 5]) -> Option<u8>) {
    write_sparse_smallnorb(dir, value).unwrap();
}

#[test]
fn smallnorb_loads_both_sets_and_draws_the_instance_at_random() {
    let dir = tempfile::tempdir().unwrap();
    let norb = dir.path().join("small_norb");
    // Category 3, elevation 4, azimuth 20 (class 10), lighting 5: a grey level per instance.
    write_norb(&norb, |r| (r[0] == 3 && r[2] == 4 && r[3] == 20 && r[4] == 5).then_some(10 + 20 * r[1] as u8));
    let d = open_dataset("smallnorb", Some(dir.path())).unwrap();
    assert_eq!((d.name(), d.observation_shape()), ("smallnorb", [1, 64, 64]));
    assert_eq!(d.factors().names(), &["category", "elevation", "azimuth", "lighting"]);
    assert_eq!(d.factors().sizes(), &[5, 9, 18, 6]);
    assert!(d.is_stochastic() && d.resident_bytes() < 210 << 20);
    let probe = [3usize, 4, 10, 5];
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let o = d.observations_with(&probe, &mut rng).unwrap();
        // A constant image stays constant through the Lanczos resize.
        let v = (o[0] * 255.0).round() as u8;
        assert!(o.iter().all(|&x| ((x * 255.0).round() as u8).abs_diff(v) <= 1), "not constant");
        assert!((0..10).any(|i| v == 10 + 20 * i), "{v}");
        seen.insert(v);
    }
    assert!(seen.len() >= 8, "instances drawn: {seen:?}");
    // Same seed, same draws; other factors give the zero images.
    let a = d.observations_with(&[probe, probe].concat(), &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
    assert_eq!(a, d.observations_with(&[probe, probe].concat(), &mut ChaCha8Rng::seed_from_u64(3)).unwrap());
    assert!(d.observations(&[3, 4, 10, 4]).unwrap().iter().all(|&x| x == 0.0));
    // By path too.
    let by_path = open_dataset(norb.to_str().unwrap(), None).unwrap();
    assert_eq!(by_path.name(), "smallnorb");
    assert_eq!(disentangle_data::dataset_channels(norb.to_str().unwrap()), 1);
}

#[test]
fn damaged_smallnorb_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_norb(dir.path(), |_| None);
    assert!(SmallNorb::load_dir(dir.path()).is_ok());
    let train = |kind: &str| dir.path().join(format!("{}-{kind}.mat", CHUNKS[0]));
    let err = || SmallNorb::load_dir(dir.path()).err().expect("an error").to_string();

    // A duplicated combination (row 1 made equal to row 0).
    let rows0 = rows(0);
    let mut info: Vec<i32> = rows0.iter().flat_map(|r| [r[1], r[2], r[3], r[4]]).collect();
    info.copy_within(0..4, 4);
    write_ints(&train("info"), &[rows0.len(), 4], &info);
    let e = err();
    assert!(e.contains("training-info.mat") && e.contains("row 1") && e.contains("twice"), "{e}");
    // An odd azimuth.
    info.copy_from_slice(&rows0.iter().flat_map(|r| [r[1], r[2], r[3], r[4]]).collect::<Vec<_>>());
    info[2] = 3;
    write_ints(&train("info"), &[rows0.len(), 4], &info);
    assert!(err().contains("azimuth must be even"));
    // Info of the wrong shape, then a truncated info file.
    write_ints(&train("info"), &[rows0.len(), 3], &info[..rows0.len() * 3]);
    assert!(err().contains("expected an int32 matrix of shape [24300, 4]"));
    let full: Vec<i32> = rows0.iter().flat_map(|r| [r[1], r[2], r[3], r[4]]).collect();
    write_ints(&train("info"), &[rows0.len(), 4], &full[..100]);
    assert!(err().contains("truncated"));
    write_ints(&train("info"), &[rows0.len(), 4], &full);
    // A truncated image file, and one with a wrong magic number.
    let dat = train("dat");
    let len = std::fs::metadata(&dat).unwrap().len();
    File::options().write(true).open(&dat).unwrap().set_len(len - 1).unwrap();
    assert!(err().contains("truncated"));
    let mut f = File::options().write(true).open(&dat).unwrap();
    f.write_all(&0x1234_5678u32.to_le_bytes()).unwrap();
    drop(f);
    assert!(err().contains("magic number 0x12345678"));
    // A missing file names itself.
    std::fs::remove_file(&dat).unwrap();
    assert!(err().contains("training-dat.mat"));
    let e = open_dataset("smallnorb", Some(dir.path())).err().unwrap().to_string();
    assert!(e.contains("small_norb") && e.contains("cs.nyu.edu"), "{e}");
}
