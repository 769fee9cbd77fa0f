//! Winograd F(2×2, 2×2) pieces against the parity GEMMs they replace, per sample, one
//! thread, µs (median of repetitions over a batch of 64 distinct samples).
//!
//!     RAYON_NUM_THREADS=1 cargo run --release -p disentangle-engine --example winograd_times

mod common;
use common::{SAMPLES as N, per_sample_us, values};
use disentangle_engine::Kernels;
use disentangle_engine::parity::ParityShape;
use disentangle_engine::simd::wide;
use disentangle_engine::winograd::Winograd;

fn main() {
    let kernels = Kernels::current();
    let (p, level) = (kernels.products(), kernels.vectors());
    for (name, sh) in [
        ("conv2 / deconv3 32↔32 32²↔16²", ParityShape { big_channels: 32, small_channels: 32, h: 16, w: 16 }),
        ("deconv2 32←64 16²←8²", ParityShape { big_channels: 32, small_channels: 64, h: 8, w: 8 }),
    ] {
        let Some(wg) = kernels.taps().and_then(|isa| Winograd::new(sh, isa, level)) else {
            println!("no tap kernels in {kernels}");
            return;
        };
        let (bl, sl) = (sh.big_channels * 4 * sh.h * sh.w, sh.small_channels * sh.h * sh.w);
        let (big, small) = (values(N * bl), values(N * sl));
        let w = values(sh.weight_len());
        let mut planes = vec![0.0; sh.planes_len()];
        let mut v = vec![0.0; wg.big_tiles_len()];
        let mut m = vec![0.0; wg.small_tiles_len()];
        let mut out_small = vec![0.0; N * sl];
        let mut out_big = vec![0.0; N * bl];
        let mut fw = vec![0.0; wg.forward_packed_len()];
        let mut aw = vec![0.0; wg.adjoint_packed_len()];
        wg.pack_forward(&w, &mut fw);
        wg.pack_adjoint(&w, &mut aw);
        let mut dut = vec![0.0; wg.partial_len()];
        println!("{name}: {} tiles", wg.tiles());
        let split = per_sample_us(|s| wide(level, || sh.split_planes(&big[s * bl..][..bl], &mut planes)));
        let tiles = per_sample_us(|_| wide(level, || wg.big_tiles(&planes, &mut v)));
        let fwd = per_sample_us(|_| wide(level, || wg.forward(&fw, &v, &mut m)));
        let out = per_sample_us(|s| wide(level, || wg.small_of_tiles(&m, &mut out_small[s * sl..][..sl], None, true)));
        println!("  conv:       split {split:6.2}  big_tiles {tiles:6.2}  products {fwd:6.2}  small_of_tiles {out:6.2}");
        let direct = per_sample_us(|s| wide(level, || wg.big_tiles_of_image(&big[s * bl..][..bl], &mut planes, &mut v)));
        println!("              big_tiles_of_image (split and tiles together) {direct:6.2}");
        let lift = per_sample_us(|s| wide(level, || wg.small_tiles(&small[s * sl..][..sl], &mut m)));
        let adj = per_sample_us(|_| wide(level, || wg.adjoint(&aw, &m, &mut v)));
        let back = per_sample_us(|_| wide(level, || wg.planes_of_tiles(&v, &mut planes)));
        let merge = per_sample_us(|s| wide(level, || wg.merge_planes(&planes, &mut out_big[s * bl..][..bl], None, true)));
        println!("  transposed: small_tiles {lift:6.2}  products {adj:6.2}  planes_of_tiles {back:6.2}  merge {merge:6.2}");
        let fused = per_sample_us(|s| wide(level, || wg.image_of_tiles(&v, &mut planes, &mut out_big[s * bl..][..bl], None, true)));
        println!("              image_of_tiles (planes and merge together) {fused:6.2}");
        let mut tb = vec![0.0; wg.transposed_len()];
        let liftt = per_sample_us(|s| wide(level, || wg.small_tiles_transposed(&small[s * sl..][..sl], &mut tb, &mut m)));
        let wgr = per_sample_us(|_| wide(level, || wg.add_weight_gradient(&v, &m, &mut dut)));
        println!("  weights:    small_tiles_transposed {liftt:6.2}  products {wgr:6.2}");
        // The parity GEMMs on the same shape.
        let mut packed = vec![0.0; sh.weight_len().max(sh.down_packed_len(p)).max(sh.up_packed_len(p))];
        let mut buf = vec![0.0; sh.buffer_len()];
        sh.conv_weights(p, &w, &mut packed);
        let conv = per_sample_us(|_| wide(level, || sh.conv(p, &packed, &planes, &mut buf)));
        sh.transposed_conv_weights(p, &w, &mut packed);
        let mut padded = vec![0.0; sh.padded_small_len()];
        sh.pad_small(&small[..sl], &mut padded);
        let mut up_out = vec![0.0; sh.up_len()];
        let up = per_sample_us(|_| wide(level, || sh.transposed_conv(p, &packed, &padded, &mut up_out)));
        let mut dwd = vec![0.0; sh.weight_len()];
        let mut tbuf = vec![0.0; sh.grid_len()];
        let wgrad = per_sample_us(|s| wide(level, || sh.add_conv_weight_gradient(p, &small[s * sl..][..sl], &mut tbuf, &planes, &mut dwd)));
        println!("  parity GEMMs: conv {conv:6.2}  transposed {up:6.2}  weight gradient (with transpose) {wgrad:6.2}");
    }
}
