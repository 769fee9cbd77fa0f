//! Our readers against files written by NumPy (`np.savez_compressed`, with a real pickled
//! metadata dict and Fortran-ordered latents, as NumPy writes transposed arrays) and SciPy (`scipy.io.savemat`, compressed) — see fixtures/make_fixtures.py.

use std::path::PathBuf;

use disentangle_data::{Cars3d, DSpritesOfficial, FactorDataset, mat};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

#[test]
fn numpy_written_dsprites_npz() {
    let d = DSpritesOfficial::load(&fixture("numpy_dsprites.npz")).unwrap();
    assert_eq!(d.factors().sizes(), &[3, 2, 1, 1, 2]);
    for shape in 0..3 {
        for scale in 0..2 {
            for posy in 0..2 {
                let obs = d.observations(&[shape, scale, 0, 0, posy]).unwrap();
                let on: Vec<usize> = (0..obs.len()).filter(|&p| obs[p] == 1.0).collect();
                assert_eq!(on, vec![(shape * 10 + scale) * 64 + posy * 20 + 3]);
            }
        }
    }
    assert_eq!(d.factor_values()[1], vec![0.0, 0.25]);
}

#[test]
fn scipy_written_cars_mat() {
    let im = mat::read_mat_u8(&fixture("scipy_car.mat"), "im").unwrap();
    assert_eq!(im.dims, vec![128, 128, 3, 24, 4]);
    let data = im.data.unwrap();
    let mut i = 0;
    // Column-major: the first dimension varies fastest.
    for e in 0..4 {
        for a in 0..24 {
            for c in 0..3 {
                for w in 0..128 {
                    for h in 0..128 {
                        let want = ((h / 8) * 16 + (w / 8) + 60 * c + 5 * a + 40 * e) % 256;
                        assert_eq!(data[i] as usize, want, "h {h} w {w} c {c} a {a} e {e}");
                        i += 1;
                    }
                }
            }
        }
    }
    let mask = mat::read_mat_u8(&fixture("scipy_car.mat"), "mask").unwrap();
    assert_eq!(mask.dims, vec![128, 128, 24, 4]);

    // The folder loader takes the only .mat file of the fixtures folder as object 0.
    let cars = Cars3d::load_dir(&fixture("")).unwrap();
    assert_eq!(cars.factors().sizes(), &[4, 24, 1]);
    // Output pixel (y, x) = (5, 9) of the 2× downsample is centred on source rows 10–11,
    // columns 18–19: block (1, 2) of the red channel, value 16 + 2 + 5·3 + 40·2 = 113.
    // The Lanczos window (±6 source pixels) reaches the neighbouring blocks (±16, ±1),
    // so allow half a vertical step.
    let obs = cars.observations(&[2, 3, 0]).unwrap();
    let got = obs[5 * 64 + 9] * 255.0;
    assert!((got - 113.0).abs() <= 8.0, "{got}");
    // Values are scaled to [0, 1].
    assert!(obs.iter().all(|v| (0.0..=1.0).contains(v)));
}
