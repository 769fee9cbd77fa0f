//! Mutual information between a continuous variable and a discrete one by nearest
//! neighbours (Ross 2014, "Mutual Information between Discrete and Continuous Data Sets"),
//! computed as scikit-learn's `mutual_info_classif` does for one continuous feature:
//!
//! - rows whose class has a single member are dropped (N counts the rest);
//! - for row i of class c (n_c members) with k = min(`n_neighbors`, n_c − 1), r_i is the
//!   distance |z_i − z_j| to its k-th nearest *other* member of c, and the radius is the
//!   largest double below r_i;
//! - m_i counts the rows (of every kept class, i itself included) within that radius;
//! - I = ψ(N) + mean ψ(k) − mean ψ(n_c) − mean ψ(m), clipped at 0 (nats).
//!
//! The values are taken as given: scikit-learn first scales the feature to unit standard
//! deviation and adds 1e-10-scale jitter from an unseeded generator; callers that need that
//! do it themselves with a seeded one (see [`crate::infomec`]).

/// ψ(x), the digamma function, for x > 0: the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 10,
/// then the asymptotic series (error below 1e-15 there).
pub fn digamma(mut x: f64) -> f64 {
    let mut shift = 0.0;
    while x < 10.0 {
        shift -= 1.0 / x;
        x += 1.0;
    }
    let inv2 = 1.0 / (x * x);
    // ln x − 1/(2x) − Σ B_2k / (2k x^{2k}), k = 1 … 6.
    let series = inv2 * (1.0 / 12.0 - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 * (1.0 / 132.0 - inv2 * 691.0 / 32760.0)))));
    shift + x.ln() - 0.5 / x - series
}

/// The largest double below `r` (0 stays 0, as numpy's `nextafter(0, 0)`).
fn below(r: f64) -> f64 {
    if r > 0.0 { f64::from_bits(r.to_bits() - 1) } else { r }
}

/// I(z; class) in nats by the estimator above. `classes` are labels of any range.
pub fn mi_continuous_discrete(z: &[f64], classes: &[u32], n_neighbors: usize) -> f64 {
    let mut members: std::collections::BTreeMap<u32, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, &c) in classes.iter().enumerate() {
        members.entry(c).or_default().push(i);
    }
    let (mut kept, mut radius, mut ks, mut counts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for rows in members.values().filter(|r| r.len() > 1) {
        let k = n_neighbors.min(rows.len() - 1);
        let mut values: Vec<f64> = rows.iter().map(|&i| z[i]).collect();
        values.sort_by(f64::total_cmp);
        for &i in rows {
            // The k nearest others lie within k places on either side in sorted order.
            let at = values.partition_point(|&v| v < z[i]);
            let lo = at.saturating_sub(k);
            let hi = (at + k + 1).min(values.len());
            let mut d: Vec<f64> = values[lo..hi].iter().map(|&v| (v - z[i]).abs()).collect();
            d.sort_by(f64::total_cmp);
            // d[0] is the row itself (distance 0; a tie at 0 is another member at the same
            // value, which the reference counts as a neighbour at 0 too).
            kept.push(i);
            radius.push(below(d[k]));
            ks.push(k);
            counts.push(rows.len());
        }
    }
    let n = kept.len();
    if n == 0 {
        return 0.0;
    }
    let mut sorted: Vec<f64> = kept.iter().map(|&i| z[i]).collect();
    sorted.sort_by(f64::total_cmp);
    let mut psi_m = 0.0;
    for (&i, &r) in kept.iter().zip(&radius) {
        let x = z[i];
        // Rounded differences are monotone in v, so the rows within r form a contiguous run.
        let lo = sorted.partition_point(|&v| v < x && (x - v) > r);
        let hi = sorted.partition_point(|&v| v <= x || (v - x) <= r);
        psi_m += digamma((hi - lo) as f64);
    }
    let nf = n as f64;
    let psi_k = ks.iter().map(|&k| digamma(k as f64)).sum::<f64>() / nf;
    let psi_c = counts.iter().map(|&c| digamma(c as f64)).sum::<f64>() / nf;
    (digamma(nf) + psi_k - psi_c - psi_m / nf).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digamma_known_values() {
        // ψ(1) = −γ, ψ(1/2) = −γ − 2 ln 2, ψ(n) = −γ + H_{n−1} (scipy.special.digamma agrees).
        let gamma = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + gamma).abs() < 1e-14);
        assert!((digamma(0.5) + gamma + 2.0 * 2f64.ln()).abs() < 1e-14);
        let h: f64 = (1..1000).map(|i| 1.0 / i as f64).sum();
        assert!((digamma(1000.0) - (h - gamma)).abs() < 1e-12);
        assert!((digamma(10.0) - 2.251_752_589_066_721).abs() < 4e-15, "{}", digamma(10.0));
    }

    /// The estimator written out directly (all pairs), for comparison.
    fn brute(z: &[f64], classes: &[u32], k_max: usize) -> f64 {
        let n_all = z.len();
        let keep: Vec<usize> = (0..n_all).filter(|&i| classes.iter().filter(|&&c| c == classes[i]).count() > 1).collect();
        let n = keep.len() as f64;
        let (mut a, mut b, mut c) = (0.0, 0.0, 0.0);
        for &i in &keep {
            let same: Vec<usize> = keep.iter().copied().filter(|&j| classes[j] == classes[i]).collect();
            let k = k_max.min(same.len() - 1);
            let mut d: Vec<f64> = same.iter().filter(|&&j| j != i).map(|&j| (z[j] - z[i]).abs()).collect();
            d.sort_by(f64::total_cmp);
            let r = below(d[k - 1]);
            let m = keep.iter().filter(|&&j| (z[j] - z[i]).abs() <= r).count();
            a += digamma(k as f64);
            b += digamma(same.len() as f64);
            c += digamma(m as f64);
        }
        (digamma(n) + (a - b - c) / n).max(0.0)
    }

    #[test]
    fn equals_the_estimator_written_out() {
        let z: Vec<f64> = (0..300).map(|i| ((i * 37 % 101) as f64 * 0.173).sin() + (i % 3) as f64).collect();
        let classes: Vec<u32> = (0..300).map(|i| (i % 3) as u32).collect();
        for k in [1, 3, 10] {
            let (fast, slow) = (mi_continuous_discrete(&z, &classes, k), brute(&z, &classes, k));
            assert!((fast - slow).abs() < 1e-12, "k {k}: {fast} vs {slow}");
        }
        // A singleton class is dropped, not an error.
        let mut odd = classes.clone();
        odd[0] = 9;
        assert!(mi_continuous_discrete(&z, &odd, 3).is_finite());
    }

    #[test]
    fn independent_variables_have_about_zero_information_and_a_function_much() {
        let z: Vec<f64> = (0..2000).map(|i| ((i as f64) * 0.618_033_988_7).fract()).collect();
        let noise: Vec<u32> = (0..2000).map(|i| ((i * 7919 + 13) % 4) as u32).collect();
        assert!(mi_continuous_discrete(&z, &noise, 10) < 0.02);
        let function: Vec<u32> = z.iter().map(|&v| (v * 4.0) as u32).collect();
        let mi = mi_continuous_discrete(&z, &function, 10);
        assert!((mi - 4f64.ln()).abs() < 0.05, "{mi} vs ln 4");
    }
}
