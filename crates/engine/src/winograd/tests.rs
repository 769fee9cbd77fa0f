use super::*;
use crate::parity::tests::values;
use crate::parity::{add_unpermuted_gradient, down_weights, up_weights};

/// `sh` on every tap-kernel instruction set this CPU has, with the generic transforms and
/// those in AVX2 and AVX-512 registers where the CPU has them: each is compared with the same parity GEMMs
/// on the same shapes (`tests/kernels.rs` reports the instruction sets this CPU lacks as
/// ignored).
fn variants(sh: ParityShape) -> Vec<Winograd> {
    let mut all = Vec::new();
    for isa in [Isa::Avx2, Isa::Avx512] {
        for transforms in [Level::Baseline, Level::Avx2, Level::Avx512] {
            if let Some(wg) = Winograd::new(sh, isa, transforms).filter(|wg| wg.transforms() == transforms) {
                all.push(wg);
            }
        }
    }
    all
}

fn close(a: &[f32], b: &[f32], what: &str) {
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= 2e-5 * scale, "{what}[{i}]: {x} vs {y}");
    }
}

/// Conv, transposed conv and weight gradient through the transforms against the parity
/// GEMMs (themselves tested against the definitions in `parity`), on the models' shapes
/// and on ragged ones, with bias and ReLU where the layers apply them.
#[test]
fn winograd_products_equal_the_parity_gemms() {
    for (bc, sc, h, w) in [(3, 5, 2, 2), (2, 3, 4, 6), (16, 16, 8, 8), (32, 32, 16, 16), (17, 20, 6, 4), (64, 32, 8, 8), (32, 64, 4, 4), (16, 16, 4, 16), (3, 7, 8, 16), (32, 64, 8, 8), (5, 3, 8, 8)] {
        let sh = ParityShape { big_channels: bc, small_channels: sc, h, w };
        for wg in variants(sh) {
            let what = |s: &str| format!("{sh:?} {wg:?} {s}");
            let wt = values(sh.weight_len(), 0.37);
            let bias = values(bc.max(sc), 0.7);
            let big = values(bc * 4 * h * w, 0.11);
            let small = values(sc * h * w, 0.23);
            let mut planes = vec![f32::NAN; sh.planes_len()];
            sh.split_planes(&big, &mut planes);

            // Conv: act(down(big) + bias).
            let mut wd = vec![0.0; sh.weight_len()];
            down_weights(&sh, &wt, &mut wd);
            let mut grid = vec![f32::NAN; sh.grid_len()];
            sh.down(&wd, &planes, &mut grid);
            let mut want = vec![0.0; sc * h * w];
            sh.grid_to_small(&grid, &mut want, Some(&bias), true);
            let mut packed = vec![f32::NAN; wg.forward_packed_len().max(wg.adjoint_packed_len())];
            wg.pack_forward(&wt, &mut packed);
            let mut v = vec![f32::NAN; wg.big_tiles_len()];
            wg.big_tiles(&planes, &mut v);
            // Straight from the image: the same tiles, bit for bit.
            let mut work = vec![f32::NAN; sh.planes_len()];
            let mut v_direct = vec![f32::NAN; wg.big_tiles_len()];
            wg.big_tiles_of_image(&big, &mut work, &mut v_direct);
            // (Bits, so the untouched NaN between the nine matrices compare equal too.)
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&v_direct), bits(&v), "{}", what("tiles of the image"));
            // A transposed conv's output gradient through its ReLU: the tiles of the gated
            // image, and its per-channel sums added to the bias gradient.
            let out = values(bc * 4 * h * w, 0.53);
            let gated: Vec<f32> = big.iter().zip(&out).map(|(&d, &y)| if y > 0.0 { d } else { 0.0 }).collect();
            let mut want_v = vec![f32::NAN; wg.big_tiles_len()];
            wg.big_tiles_of_image(&gated, &mut work, &mut want_v);
            let want_sums: Vec<f32> = gated.chunks(4 * h * w).map(|c| 0.25 + c.iter().sum::<f32>()).collect();
            let (mut sums, mut got_v) = (vec![0.25; bc], vec![f32::NAN; wg.big_tiles_len()]);
            let done = wg.gated_tiles(&big, &out, true, &mut sums, &mut work, &mut got_v);
            assert_eq!(done, wg.fast_transforms(), "{}", what("gated tiles where the transforms are fast"));
            if done {
                assert_eq!(bits(&got_v), bits(&want_v), "{}", what("tiles of the gated gradient"));
                close(&sums, &want_sums, &what("bias gradient"));
            }
            let mut m = vec![f32::NAN; wg.small_tiles_len()];
            wg.forward(&packed, &v, &mut m);
            let mut got = vec![f32::NAN; sc * h * w];
            wg.small_of_tiles(&m, &mut got, Some(&bias), true);
            close(&got, &want, &what("conv"));

            // Transposed conv: act(up(small) + bias).
            let mut wu = vec![0.0; sh.weight_len()];
            up_weights(&sh, &wt, &mut wu);
            let mut padded = vec![f32::NAN; sh.padded_small_len()];
            sh.pad_small(&small, &mut padded);
            let mut out = vec![f32::NAN; sh.up_len()];
            sh.up(&wu, &padded, &mut out);
            let mut want = vec![0.0; bc * 4 * h * w];
            sh.interleave(&out, &mut want, Some(&bias), true);
            wg.pack_adjoint(&wt, &mut packed);
            let mut l = vec![f32::NAN; wg.small_tiles_len()];
            wg.small_tiles(&small, &mut l);
            let mut dv = vec![f32::NAN; wg.big_tiles_len()];
            wg.adjoint(&packed, &l, &mut dv);
            let mut dplanes = vec![f32::NAN; sh.planes_len()];
            wg.planes_of_tiles(&dv, &mut dplanes);
            let mut got = vec![f32::NAN; bc * 4 * h * w];
            wg.merge_planes(&dplanes, &mut got, Some(&bias), true);
            close(&got, &want, &what("transposed conv"));
            // Planes and merge one channel at a time (or, for 4 × 4 tiles, summed straight
            // into the image rows in another order): the same image.
            let mut fused = vec![f32::NAN; bc * 4 * h * w];
            wg.image_of_tiles(&dv, &mut work, &mut fused, Some(&bias), true);
            close(&fused, &got, &what("image of the tiles"));

            // Weight gradient of <down_W(big), small>, added to a nonzero start.
            let mut grid_small = vec![f32::NAN; sh.grid_len()];
            sh.small_on_grid(&small, &mut grid_small);
            let mut dwd = vec![0.0; sh.weight_len()];
            sh.weight_gradient(&grid_small, &planes, &mut dwd);
            let mut want = vec![0.5; sh.weight_len()];
            add_unpermuted_gradient(&sh, &dwd, &mut want);
            let mut lt = vec![f32::NAN; wg.small_tiles_len()];
            let mut tbuf = vec![f32::NAN; wg.transposed_len()];
            wg.small_tiles_transposed(&small, &mut tbuf, &mut lt);
            let mut dut = vec![0.0; wg.partial_len()];
            wg.add_weight_gradient(&v, &lt, &mut dut);
            let mut got = vec![0.5; sh.weight_len()];
            wg.add_gradient_to(&dut, &mut got);
            close(&got, &want, &what("weight gradient"));
        }
    }
}

/// All nine transformed kernels at once are the entry-by-entry definition, bit for bit.
#[test]
fn transforming_all_entries_at_once_equals_the_definition() {
    let sh = ParityShape { big_channels: 3, small_channels: 5, h: 4, w: 4 };
    let Some(&wg) = variants(sh).first() else { return };
    let w = values(sh.weight_len(), 0.29);
    let mut u = vec![f32::NAN; 9 * 5 * 12];
    wg.transform_all(&w, &mut u);
    for e in 0..9 {
        for s in 0..5 {
            for c in 0..12 {
                assert_eq!(u[(e * 5 + s) * 12 + c].to_bits(), wg.transformed(&w, e, s, c).to_bits(), "U[{e}, {s}, {c}]");
            }
        }
    }
}

/// Merging is the inverse of splitting, value for value.
#[test]
fn merging_planes_inverts_splitting_them() {
    let sh = ParityShape { big_channels: 3, small_channels: 2, h: 4, w: 6 };
    let Some(&wg) = variants(sh).first() else { return };
    let big = values(3 * 4 * 4 * 6, 0.3);
    let mut planes = vec![f32::NAN; sh.planes_len()];
    sh.split_planes(&big, &mut planes);
    let mut back = vec![f32::NAN; big.len()];
    wg.merge_planes(&planes, &mut back, None, false);
    assert_eq!(back, big);
}
