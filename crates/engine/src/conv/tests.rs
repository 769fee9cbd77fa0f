use super::*;

fn direct_conv(g: &Geometry, cs: usize, w: &[f32], x: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0; cs * g.p()];
    for co in 0..cs {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let mut acc = 0.0;
                for c in 0..g.channels {
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            let iy = (oy * g.stride + ky) as isize - g.pad as isize;
                            let ix = (ox * g.stride + kx) as isize - g.pad as isize;
                            if iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w {
                                acc += x[(c * g.h + iy as usize) * g.w + ix as usize]
                                    * w[((co * g.channels + c) * g.kh + ky) * g.kw + kx];
                            }
                        }
                    }
                }
                y[(co * g.oh + oy) * g.ow + ox] = acc;
            }
        }
    }
    y
}

/// The lowered layers' three products (forward, input gradient, weight gradient) with every
/// [`Kernels`] this CPU runs (tap kernels and the `gemm` crate), against an f64 sum, for the
/// shapes the models use and ragged ones.
#[test]
fn lowered_products_on_either_path_equal_an_f64_sum() {
    for &(cs, kk, p) in &[(32, 16, 1024), (64, 128, 64), (64, 256, 16), (160, 256, 16), (1, 16, 1024), (5, 7, 300), (9, 3, 257)] {
        let w: Vec<f32> = (0..cs * kk).map(|i| (i as f32 * 0.31).sin()).collect();
        let right: Vec<f32> = (0..kk.max(cs) * p).map(|i| (i as f32 * 0.17).cos()).collect();
        let left: Vec<f32> = (0..cs * p).map(|i| (i as f32 * 0.23).sin()).collect();
        // A 1 × 1 conv from kk channels to cs: its K is kk, as pack_lowered reads it.
        for kernels in Kernels::supported() {
            let layer = ConvLayer::new(Geometry::new(kk, 1, 1, 1, 1, 1, 0), cs, false, false, kernels);
            let products = kernels.products();
            // W [cs, kk] · right [kk, p] and Wᵀ [kk, cs] · right [cs, p].
            for transposed_left in [false, true] {
                let (m, q) = if transposed_left { (kk, cs) } else { (cs, kk) };
                let mut packed = vec![0.0; products.packed_len(m, q).max(1)];
                layer.pack_lowered(&w, &mut packed, transposed_left);
                let view = if transposed_left { View::transposed(&w, kk) } else { View::rows(&w, kk) };
                let mut out = vec![f32::NAN; m * p];
                ConvLayer::lowered_product(products, m, q, p, &packed, view, &right[..q * p], &mut out);
                for i in 0..m {
                    for j in 0..p {
                        let a = |l: usize| if transposed_left { w[l * kk + i] } else { w[i * kk + l] } as f64;
                        let terms = (0..q).map(|l| a(l) * right[l * p + j] as f64);
                        let (want, mag) = (terms.clone().sum::<f64>(), terms.map(f64::abs).sum::<f64>());
                        let got = out[i * p + j] as f64;
                        assert!((got - want).abs() <= (q + 1) as f64 * 1.2e-7 * mag, "{kernels} {m}×{q}×{p} ({i}, {j}): {got} vs {want}");
                    }
                }
            }
            // dW [cs, kk] += left [cs, p] · patchesᵀ, patches [kk, p].
            let start: Vec<f32> = (0..cs * kk).map(|i| (i as f32 * 0.07).cos()).collect();
            let mut dw = start.clone();
            let mut buf = vec![f32::NAN; kk * p];
            layer.add_lowered_weight_gradient(cs, kk, p, &left, &right[..kk * p], &mut buf, &mut dw);
            for i in 0..cs {
                for l in 0..kk {
                    let terms = (0..p).map(|j| left[i * p + j] as f64 * right[l * p + j] as f64);
                    let want = start[i * kk + l] as f64 + terms.clone().sum::<f64>();
                    let mag = start[i * kk + l].abs() as f64 + terms.map(f64::abs).sum::<f64>();
                    let got = dw[i * kk + l] as f64;
                    assert!((got - want).abs() <= (p + 2) as f64 * 1.2e-7 * mag, "{kernels} dW {cs}×{kk}×{p} ({i}, {l}): {got} vs {want}");
                }
            }
        }
    }
}

#[test]
fn lowered_conv_equals_the_direct_sum_and_col2im_is_its_adjoint() {
    for (h, k, s, p) in [(8, 4, 2, 1), (8, 2, 2, 0), (7, 3, 1, 0), (6, 3, 2, 1), (7, 4, 2, 1), (9, 3, 2, 2), (5, 2, 2, 0)] {
        let g = Geometry::new(3, h, h, k, k + (s == 1) as usize, s, p);
        let cs = 4;
        let x: Vec<f32> = (0..g.big_len()).map(|i| (i as f32 * 0.7).sin()).collect();
        let w: Vec<f32> = (0..cs * g.k()).map(|i| (i as f32 * 0.3).cos()).collect();
        let layer = ConvLayer::new(g, cs, false, false, Kernels::portable());
        let mut scratch: Vec<Scratch> = (0..2).map(|_| Scratch::default()).collect();
        scratch.iter_mut().for_each(|s| s.reserve(layer.col_len(), layer.weight_len(), cs, g.phase_len(), layer.wperm_len()));
        let mut y = vec![0.0; cs * g.p()];
        layer.forward(&w, &vec![0.0; cs], &x, &mut y, 1, &mut scratch, None);
        let want = direct_conv(&g, cs, &w, &x);
        for (a, b) in y.iter().zip(&want) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        // <im2col(x), c> = <x, col2im(c)>.
        let c: Vec<f32> = (0..g.k() * g.p()).map(|i| (i as f32 * 0.13).sin()).collect();
        let mut col = vec![0.0; g.k() * g.p()];
        g.im2col(&x, &mut col);
        let mut back = vec![0.0; g.big_len()];
        g.col2im_add(&c, &mut back);
        // The parity-plane lowering gives exactly the same matrices.
        let mut phases = vec![f32::NAN; g.phase_len()];
        let mut col2 = vec![f32::NAN; g.k() * g.p()];
        g.im2col_via_phases(&x, &mut col2, &mut phases);
        assert_eq!(col, col2, "{g:?}");
        let mut back2 = vec![0.0; g.big_len()];
        g.col2im_add_via_phases(&c, &mut back2, &mut phases);
        for (a, b) in back.iter().zip(&back2) {
            assert!((a - b).abs() < 1e-5, "{g:?}");
        }
        let lhs: f64 = col.iter().zip(&c).map(|(a, b)| (*a * *b) as f64).sum();
        let rhs: f64 = x.iter().zip(&back).map(|(a, b)| (*a * *b) as f64).sum();
        assert!((lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0));
    }
}

/// im2col / col2im into and out of a wider matrix (the grouped layers' side-by-side
/// samples) are the unstrided ones, row by row.
#[test]
fn strided_patches_are_the_unstrided_ones_row_by_row() {
    for g in [Geometry::new(3, 8, 8, 4, 4, 2, 1), Geometry::new(2, 6, 10, 4, 4, 2, 1)] {
        let (k, p, ld) = (g.k(), g.p(), g.p() * 3 + 5);
        let img: Vec<f32> = (0..g.channels * g.h * g.w).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut phases = vec![0.0; g.phase_len()];
        let mut want = vec![f32::NAN; k * p];
        g.im2col_via_phases(&img, &mut want, &mut phases);
        let mut got = vec![f32::NAN; k * ld];
        g.im2col_via_phases_strided(&img, &mut got[p..], ld, &mut phases);
        for r in 0..k {
            assert_eq!(&got[p + r * ld..][..p], &want[r * p..][..p], "{g:?} im2col row {r}");
        }
        let back_want = {
            let mut v = vec![0.5; img.len()];
            g.col2im_add_via_phases(&want, &mut v, &mut phases);
            v
        };
        let mut back = vec![0.5; img.len()];
        g.col2im_add_via_phases_strided(&got[p..], ld, &mut back, &mut phases);
        assert_eq!(back, back_want, "{g:?} col2im");
    }
}

/// A grouped layer's batch passes (groups of samples side by side, patches in registers
/// with AVX-512 loops) against the same layer sample by sample through the lowering:
/// outputs, weight, bias and input gradients, on a batch that leaves a partial group, for
/// every [`Kernels`] this CPU runs.
#[test]
fn grouped_passes_equal_the_sample_by_sample_lowering() {
    for kernels in Kernels::supported() {
        grouped_passes_equal_the_sample_by_sample_lowering_with(kernels);
    }
}

fn grouped_passes_equal_the_sample_by_sample_lowering_with(kernels: Kernels) {
    let layer = ConvLayer::new(Geometry::new(6, 8, 8, 4, 4, 2, 1), 5, true, true, kernels);
    assert!(layer.grouped() && layer.parity_shape().is_none());
    assert_eq!(layer.patches_in_registers(), kernels.vectors() == crate::simd::Level::Avx512);
    let (il, ol, n) = (layer.input_len(), layer.output_len(), GROUP + 3);
    let w: Vec<f32> = (0..layer.weight_len()).map(|i| (i as f32 * 0.41).sin() * 0.3).collect();
    let b: Vec<f32> = (0..layer.bias_len()).map(|i| (i as f32 * 0.7).cos() * 0.1).collect();
    let x: Vec<f32> = (0..n * il).map(|i| (i as f32 * 0.13).sin()).collect();
    let dy0: Vec<f32> = (0..n * ol).map(|i| (i as f32 * 0.29).cos()).collect();
    let mut sc = Scratch::default();
    sc.reserve(layer.scratch_len(), layer.partial_len(), layer.bias_len(), layer.scratch_phase_len(), layer.wperm_len());
    let mut scratch = vec![sc];

    let mut y = vec![f32::NAN; n * ol];
    layer.forward(&w, &b, &x, &mut y, n, &mut scratch, None);
    let (mut dy, mut dx) = (dy0.clone(), vec![f32::NAN; n * il]);
    let (mut dw, mut db) = (vec![f32::NAN; layer.weight_len()], vec![f32::NAN; layer.bias_len()]);
    layer.backward(&w, &x, &y, &mut dy, &mut dw, &mut db, Some(&mut dx), n, &mut scratch, None);

    let sc = &mut scratch[0];
    let (mut fw, mut bw) = (vec![0.0; layer.wperm_len()], vec![0.0; layer.wperm_len()]);
    layer.prepare_forward(&w, &mut fw);
    layer.prepare_backward(&w, &mut bw);
    let (mut want_dw, mut want_db) = (vec![0.0; layer.weight_len()], vec![0.0; layer.bias_len()]);
    let close = |a: &[f32], b: &[f32], what: &str| {
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (p, q)) in a.iter().zip(b).enumerate() {
            assert!((p - q).abs() <= 1e-5 * scale, "{kernels} {what}[{i}]: {p} vs {q}");
        }
    };
    for s in 0..n {
        let mut yo = vec![f32::NAN; ol];
        layer.forward_one(&w, &fw, &b, &x[s * il..][..il], &mut yo, sc, None);
        close(&y[s * ol..][..ol], &yo, &format!("output of sample {s}"));
        let (mut dyo, mut dxs) = (dy0[s * ol..][..ol].to_vec(), vec![f32::NAN; il]);
        layer.backward_one(&w, &bw, &x[s * il..][..il], &yo, &mut dyo, &mut want_dw, &mut want_db, Some(&mut dxs), sc, None);
        close(&dx[s * il..][..il], &dxs, &format!("input gradient of sample {s}"));
    }
    close(&dw, &want_dw, "weight gradient");
    close(&db, &want_db, "bias gradient");
}
