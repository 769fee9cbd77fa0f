//! The conv layers' data movement per sample (plane splitting, interleaving, padding,
//! transposes, im2col) against the products it feeds, one thread, µs per sample (median of
//! repetitions over a batch of 64 distinct samples, so inputs come from L2 as in training).
//!
//!     RAYON_NUM_THREADS=1 cargo run --release -p disentangle-engine --example copy_times

mod common;
use common::{SAMPLES as N, per_sample_us, values};
use disentangle_engine::conv::{ConvLayer, Geometry, Scratch};
use disentangle_engine::Kernels;
use disentangle_engine::parity::ParityShape;
use disentangle_engine::simd::wide;

fn main() {
    let kernels = Kernels::current();
    let (p, level) = (kernels.products(), kernels.vectors());
    for (name, sh) in [
        ("conv2 32→32 32²→16²", ParityShape { big_channels: 32, small_channels: 32, h: 16, w: 16 }),
        ("deconv2 32→32 8²→16²", ParityShape { big_channels: 32, small_channels: 32, h: 8, w: 8 }),
        ("deconv1 64→64 4²→8²", ParityShape { big_channels: 64, small_channels: 64, h: 4, w: 4 }),
    ] {
        let (bl, sl) = (sh.big_channels * 4 * sh.h * sh.w, sh.small_channels * sh.h * sh.w);
        let (big, small) = (values(N * bl), values(N * sl));
        let mut planes = vec![0.0; sh.planes_len()];
        let mut buf = vec![0.0; sh.buffer_len()];
        let mut out_big = vec![0.0; N * bl];
        let mut out_small = vec![0.0; N * sl];
        let w = values(sh.weight_len());
        let mut packed = vec![0.0; sh.weight_len().max(sh.down_packed_len(p)).max(sh.up_packed_len(p))];
        let mut dwd = vec![0.0; sh.weight_len()];
        println!("{name}");
        let split = per_sample_us(|s| wide(level, || sh.split_planes(&big[s * bl..][..bl], &mut planes)));
        let down_w = { sh.conv_weights(p, &w, &mut packed); packed.clone() };
        let conv = per_sample_us(|s| wide(level, || { sh.split_planes(&big[s * bl..][..bl], &mut planes); sh.conv(p, &down_w, &planes, &mut buf) }));
        let to_small = per_sample_us(|s| wide(level, || sh.grid_to_small(&buf, &mut out_small[s * sl..][..sl], None, true)));
        let pad = per_sample_us(|s| wide(level, || sh.pad_small(&small[s * sl..][..sl], &mut buf)));
        let mut up_out = vec![0.0; sh.up_len()];
        let up_w = { sh.transposed_conv_weights(p, &w, &mut packed); packed.clone() };
        let up = per_sample_us(|s| wide(level, || { sh.pad_small(&small[s * sl..][..sl], &mut buf); sh.transposed_conv(p, &up_w, &buf, &mut up_out) }));
        let inter = per_sample_us(|s| wide(level, || sh.interleave(&up_out, &mut out_big[s * bl..][..bl], None, true)));
        let mut tbuf = vec![0.0; sh.grid_len()];
        let wgrad = per_sample_us(|s| wide(level, || { sh.split_planes(&big[s * bl..][..bl], &mut planes); sh.add_conv_weight_gradient(p, &small[s * sl..][..sl], &mut tbuf, &planes, &mut dwd) }));
        let transp = per_sample_us(|s| wide(level, || sh.small_transposed(&small[s * sl..][..sl], &mut tbuf)));
        println!("  split_planes {split:7.2}  conv (with split) {conv:7.2}  grid_to_small {to_small:7.2}");
        println!("  pad_small    {pad:7.2}  transposed conv (with pad) {up:7.2}  interleave {inter:7.2}");
        println!("  small_transposed {transp:7.2}  weight gradient (with split, transpose) {wgrad:7.2}");
    }
    let g = Geometry::new(1, 64, 64, 4, 4, 2, 1);
    let img = values(N * 4096);
    let mut col = vec![0.0; g.k() * g.p()];
    let mut phases = vec![0.0; g.phase_len()];
    let im2col = per_sample_us(|s| wide(level, || g.im2col_via_phases(&img[s * 4096..][..4096], &mut col, &mut phases)));
    let mut out = vec![0.0; 4096];
    let col2im = per_sample_us(|_| wide(level, || { out.fill(0.0); g.col2im_add_via_phases(&col, &mut out, &mut phases) }));
    for (name, layer) in [
        ("conv3 32→64 k2 16²→8²", ConvLayer::new(Geometry::new(32, 16, 16, 2, 2, 2, 0), 64, false, true, kernels)),
        ("conv4 64→64 k2 8²→4²", ConvLayer::new(Geometry::new(64, 8, 8, 2, 2, 2, 0), 64, false, true, kernels)),
        ("conv1 1→32 k4 64²→32²", ConvLayer::new(Geometry::new(1, 64, 64, 4, 4, 2, 1), 32, false, true, kernels)),
        ("deconv4 32→1 k4 32²→64²", ConvLayer::new(Geometry::new(1, 64, 64, 4, 4, 2, 1), 32, true, false, kernels)),
    ] {
        let (il, ol) = (layer.input_len(), layer.output_len());
        let x = values(N * il);
        let w = values(layer.weight_len());
        let b = values(layer.bias_len());
        let mut y = vec![0.0; N * ol];
        let mut wperm = vec![0.0; layer.wperm_len()];
        layer.prepare_forward(&w, &mut wperm);
        let mut sc = Scratch::default();
        sc.reserve(layer.scratch_len(), layer.weight_len(), layer.bias_len(), layer.scratch_phase_len(), 0);
        let mut col = vec![0.0; layer.col_len()];
        let im2col = per_sample_us(|s| wide(level, || layer.geom.im2col_via_phases(&x[s * il..][..il], &mut col, &mut sc.planes)));
        let one = per_sample_us(|s| wide(level, || layer.forward_one(&w, &wperm, &b, &x[s * il..][..il], &mut y[s * ol..][..ol], &mut sc, None)));
        let mut dw = vec![0.0; layer.weight_len()];
        let mut db = vec![0.0; layer.bias_len()];
        let mut dy = values(N * ol);
        let mut dx = vec![0.0; N * il];
        let yc = y.clone();
        let mut bperm = vec![0.0; layer.wperm_len()];
        layer.prepare_backward(&w, &mut bperm);
        let bone = per_sample_us(|s| wide(level, || layer.backward_one(&w, &bperm, &x[s * il..][..il], &yc[s * ol..][..ol], &mut dy[s * ol..][..ol], &mut dw, &mut db, Some(&mut dx[s * il..][..il]), &mut sc, None)));
        if !layer.transposed {
            let (cs, kk, pp) = (layer.small_channels, layer.geom.k(), layer.geom.p());
            let mut out = vec![0.0; cs * pp];
            let Some(isa) = kernels.taps() else { continue };
            let product = per_sample_us(|_| disentangle_engine::taps::tap_product(isa, cs, pp, kk, &[0], &wperm, &col, pp, &mut out, pp, false));
            let act = per_sample_us(|s| wide(level, || {
                let yo = &mut y[s * ol..][..ol];
                for (row, &bias) in yo.chunks_mut(pp).zip(&b) {
                    row.iter_mut().for_each(|v| *v = (*v + bias).max(0.0));
                }
            }));
            println!("  product alone {product:6.2}  bias + ReLU {act:6.2}");
        }
        let macs = (layer.weight_len() * layer.geom.p()) as f64;
        println!("{name}: im2col {im2col:6.2}  forward {one:6.2}  backward (im2col again, input gradient) {bone:6.2} µs/sample; product alone at 150 GFLOP/s ≈ {:.2}", 2.0 * macs / 150e3);
    }
    println!("conv1 / deconv4 (1 channel, 64² ↔ 32², K 16, P 1024): im2col {im2col:7.2}  col2im {col2im:7.2}");
}
