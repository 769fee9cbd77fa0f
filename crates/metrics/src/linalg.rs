//! Small dense linear algebra on symmetric matrices (row-major `Vec<f64>`): Cholesky
//! factorization and Jacobi eigenvalues. Sizes are the number of codes, so O(D³) is free.

/// Lower-triangular L with A = L Lᵀ, or None when A is not positive definite.
pub(crate) fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if !(s.is_finite() && s > 0.0) {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// ln det A from its Cholesky factor.
pub(crate) fn log_det_from_cholesky(l: &[f64], n: usize) -> f64 {
    (0..n).map(|i| 2.0 * l[i * n + i].ln()).sum()
}

/// Eigenvalues of a symmetric matrix by cyclic Jacobi rotations.
pub(crate) fn symmetric_eigenvalues(a: &[f64], n: usize) -> Vec<f64> {
    let mut m = a.to_vec();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * n + j] * m[i * n + j])
            .sum();
        let scale: f64 = m.iter().map(|v| v * v).sum::<f64>().max(f64::MIN_POSITIVE);
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let (app, aqq) = (m[p * n + p], m[q * n + q]);
                let theta = (aqq - app) / (2.0 * apq);
                // The smaller root of t² + 2θt − 1 = 0 (tan of the rotation angle).
                let sign = if theta >= 0.0 { 1.0 } else { -1.0 };
                let t = sign / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (mkp, mkq) = (m[k * n + p], m[k * n + q]);
                    m[k * n + p] = c * mkp - s * mkq;
                    m[k * n + q] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let (mpk, mqk) = (m[p * n + k], m[q * n + k]);
                    m[p * n + k] = c * mpk - s * mqk;
                    m[q * n + k] = s * mpk + c * mqk;
                }
            }
        }
    }
    (0..n).map(|i| m[i * n + i]).collect()
}

/// Sample covariance (ddof = 1) of the columns of an n×d row-major matrix.
pub(crate) fn covariance(values: &[f32], n: usize, d: usize) -> Vec<f64> {
    let mut mean = vec![0.0; d];
    for row in values.chunks_exact(d) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64;
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let mut cov = vec![0.0; d * d];
    let mut centered = vec![0.0; d];
    for row in values.chunks_exact(d) {
        for ((c, &v), m) in centered.iter_mut().zip(row).zip(&mean) {
            *c = v as f64 - m;
        }
        for i in 0..d {
            for j in i..d {
                cov[i * d + j] += centered[i] * centered[j];
            }
        }
    }
    let denom = (n as f64 - 1.0).max(1.0);
    for i in 0..d {
        for j in i..d {
            cov[i * d + j] /= denom;
            cov[j * d + i] = cov[i * d + j];
        }
    }
    cov
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reconstructs_and_rejects_indefinite() {
        let a = [4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, 3.0];
        let l = cholesky(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((s - a[i * 3 + j]).abs() < 1e-12);
            }
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    #[test]
    fn jacobi_eigenvalues_match_trace_and_determinant() {
        // [[2,1],[1,2]] has eigenvalues 1 and 3.
        let mut e = symmetric_eigenvalues(&[2.0, 1.0, 1.0, 2.0], 2);
        e.sort_by(f64::total_cmp);
        assert!((e[0] - 1.0).abs() < 1e-12 && (e[1] - 3.0).abs() < 1e-12);
        let a = [4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, 3.0];
        let e = symmetric_eigenvalues(&a, 3);
        let det = log_det_from_cholesky(&cholesky(&a, 3).unwrap(), 3).exp();
        assert!((e.iter().sum::<f64>() - 12.0).abs() < 1e-10);
        assert!((e.iter().product::<f64>() - det).abs() < 1e-9);
    }
}
