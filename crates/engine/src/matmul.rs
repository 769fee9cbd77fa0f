//! The one GEMM entry point of the engine: a bounds-checked, strided view over the `gemm`
//! crate. Strides make every transpose free (Aᵀ is A with its strides swapped), so no layer
//! ever copies a matrix to transpose it.

/// A read-only strided matrix: element (i, j) is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        View { data, rs: cols, cs: 1 }
    }
    /// The transpose of a row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [f32], cols: usize) -> Self {
        View { data, rs: 1, cs: cols }
    }
}

/// Work below this many multiply-adds runs on the calling thread: splitting it costs more
/// than it gains.
pub(crate) const PARALLEL_MIN_MACS: usize = 1 << 21;

/// c (m×n, row-major with row stride `c_rs`) = [c +] a (m×k) · b (k×n).
///
/// `accumulate` adds to c instead of overwriting it. `parallel` lets the GEMM use the rayon
/// pool when the product is large enough; callers already running one task per thread pass
/// `false`.
#[allow(clippy::too_many_arguments)]
pub fn matmul(m: usize, n: usize, k: usize, c: &mut [f32], c_rs: usize, accumulate: bool, a: View<'_>, b: View<'_>, parallel: bool) {
    if m == 0 || n == 0 {
        return;
    }
    assert!((m - 1) * c_rs + n <= c.len(), "matmul: output too small");
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                c[i * c_rs..i * c_rs + n].fill(0.0);
            }
        }
        return;
    }
    assert!((m - 1) * a.rs + (k - 1) * a.cs < a.data.len(), "matmul: left operand too small");
    assert!((k - 1) * b.rs + (n - 1) * b.cs < b.data.len(), "matmul: right operand too small");
    let parallelism = if parallel && m * n * k >= PARALLEL_MIN_MACS {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above keep every element the kernel touches inside the slices; c
    // is borrowed mutably, so it cannot alias a or b.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            c_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: View<'_>, b: View<'_>) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|l| a.data[i * a.rs + l * a.cs] * b.data[l * b.rs + j * b.cs]).sum();
            }
        }
        c
    }

    #[test]
    fn strided_products_match_the_definition() {
        let (m, n, k) = (7, 5, 9);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        for (av, bv) in [
            (View::rows(&a, k), View::rows(&b, n)),
            (View::transposed(&a, m), View::transposed(&b, k)),
        ] {
            let want = naive(m, n, k, av, bv);
            let mut c = vec![1.0; m * n];
            matmul(m, n, k, &mut c, n, false, av, bv, true);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-5);
            }
            matmul(m, n, k, &mut c, n, true, av, bv, false);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - 2.0 * y).abs() < 1e-5);
            }
        }
    }
}
