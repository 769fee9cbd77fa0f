//! The dSprites variants against their definitions in the reference study.

use disentangle_data::scream_dsprites::{TEXTURE_HEIGHT, TEXTURE_WIDTH, scream_texture};
use disentangle_data::{DSpritesGrid, DSpritesProcedural, FactorDataset, open_dataset};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N: usize = 64 * 64;

fn batch(d: &dyn FactorDataset, n: usize, seed: u64) -> (Vec<usize>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let f = d.sample_factors(n, &mut rng);
    let grey = DSpritesProcedural::new().observations(&f).unwrap();
    (f, grey)
}

#[test]
fn color_dsprites_scales_each_sprite_by_one_colour_in_half_to_one() {
    let d = open_dataset("color-dsprites", None).unwrap();
    assert_eq!((d.name(), d.observation_shape(), d.factors().sizes()), ("color-dsprites", [3, 64, 64], &[3usize, 6, 40, 32, 32][..]));
    assert!(d.is_stochastic());
    let (f, grey) = batch(&*d, 8, 1);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let obs = d.observations_with(&f, &mut rng).unwrap();
    let mut colours = Vec::new();
    for i in 0..8 {
        let g = &grey[i * N..(i + 1) * N];
        let o = &obs[i * 3 * N..(i + 1) * 3 * N];
        let on = g.iter().position(|&v| v == 1.0).expect("a sprite");
        let colour: Vec<f32> = (0..3).map(|c| o[c * N + on]).collect();
        assert!(colour.iter().all(|&k| (0.5..1.0).contains(&k)), "{colour:?}");
        for c in 0..3 {
            for p in 0..N {
                assert_eq!(o[c * N + p], g[p] * colour[c]);
            }
        }
        colours.push(colour);
    }
    assert_ne!(colours[0], colours[1], "a colour per observation");
    // Same seed, same images; the no-rng call is reproducible too.
    assert_eq!(d.observations_with(&f, &mut ChaCha8Rng::seed_from_u64(5)).unwrap(), obs);
    assert_eq!(d.observations(&f).unwrap(), d.observations(&f).unwrap());
}

#[test]
fn noisy_dsprites_keeps_sprites_white_on_uniform_noise() {
    let d = open_dataset("noisy-dsprites", None).unwrap();
    let (f, grey) = batch(&*d, 4, 2);
    let obs = d.observations_with(&f, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
    let mut background = Vec::new();
    for i in 0..4 {
        for c in 0..3 {
            for p in 0..N {
                let v = obs[i * 3 * N + c * N + p];
                if grey[i * N + p] == 1.0 {
                    assert_eq!(v, 1.0);
                } else {
                    assert!((0.0..1.0).contains(&v));
                    background.push(v as f64);
                }
            }
        }
    }
    let mean = background.iter().sum::<f64>() / background.len() as f64;
    let var = background.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / background.len() as f64;
    // U(0, 1): mean ½, variance 1/12, over ~45,000 values.
    assert!((mean - 0.5).abs() < 0.01 && (var - 1.0 / 12.0).abs() < 0.003, "{mean} {var}");
}

#[test]
fn scream_dsprites_is_a_tinted_crop_with_the_sprite_inverted() {
    let d = open_dataset("scream-dsprites", None).unwrap();
    let (f, grey) = batch(&*d, 3, 4);
    let obs = d.observations_with(&f, &mut ChaCha8Rng::seed_from_u64(9)).unwrap();
    // The reference's draws, replayed: row offset, column offset, colour, per image.
    let texture = scream_texture();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for i in 0..3 {
        let top = rng.random_range(0..TEXTURE_HEIGHT - 64);
        let left = rng.random_range(0..TEXTURE_WIDTH - 64);
        let colour: [f32; 3] = std::array::from_fn(|_| rng.random_range(0.0f32..1.0));
        for y in 0..64 {
            for x in 0..64 {
                for c in 0..3 {
                    let bg = (texture[((top + y) * TEXTURE_WIDTH + left + x) * 3 + c] + colour[c]) / 2.0;
                    let want = if grey[i * N + y * 64 + x] == 1.0 { 1.0 - bg } else { bg };
                    assert!((obs[i * 3 * N + c * N + y * 64 + x] - want).abs() < 1e-6);
                }
            }
        }
    }
    // The texture is a picture, not noise: neighbouring pixels are close, the image varies.
    let step: f32 = texture.chunks(3).zip(texture.chunks(3).skip(1)).map(|(a, b)| (a[0] - b[0]).abs()).sum::<f32>() / (texture.len() / 3) as f32;
    let mean = texture.iter().sum::<f32>() / texture.len() as f32;
    let spread = texture.iter().map(|v| (v - mean).abs()).sum::<f32>() / texture.len() as f32;
    assert!(step < 0.05 && spread > 0.1, "{step} {spread}");
}

#[test]
fn deterministic_datasets_leave_the_rng_alone_and_variants_need_dsprites() {
    let d = DSpritesProcedural::with_grid(DSpritesGrid([1, 1, 2, 2, 2])).unwrap();
    let f = vec![0, 0, 1, 1, 0];
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    assert_eq!(d.observations_with(&f, &mut rng).unwrap(), d.observations(&f).unwrap());
    assert_eq!(rng.random::<u64>(), ChaCha8Rng::seed_from_u64(1).random::<u64>());
    // Variants on the official file need it.
    let e = open_dataset("color-dsprites-official", None).err().unwrap().to_string();
    assert!(e.contains("dsprites-official"), "{e}");
}
