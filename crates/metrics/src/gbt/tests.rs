use super::tree::*;
use super::*;
use rand::Rng;

/// scikit-learn 1.3.2's `GradientBoostingRegressor(n_estimators=20, max_depth=3,
/// learning_rate=0.1, random_state=0)` on the same float32 features (x_if = sin(0.37 i +
/// 1.3 f) + 0.01 f i, i < 200) and targets (x0² + 0.5 x1 − x2 x0, products in float32 as
/// numpy forms them); predictions on ten new rows (cos(0.23 i + f)) and five training rows.
#[test]
fn regressor_equals_scikit_learn() {
    let n = 200;
    let x: Vec<f32> = (0..n).flat_map(|i| (0..3).map(move |f| ((0.37 * i as f64 + 1.3 * f as f64).sin() + 0.01 * f as f64 * i as f64) as f32)).collect();
    let y: Vec<f64> = x.chunks_exact(3).map(|r| (r[0] as f64) * (r[0] as f64) + (0.5f32 * r[1]) as f64 - (r[2] * r[0]) as f64).collect();
    let config = GbtConfig { num_stages: 20, max_depth: 3, learning_rate: 0.1, seed: 0 };
    let model = GradientBoostedRegressor::fit(&x, 3, &y, &config).unwrap();
    let new: Vec<f32> = (0..10).flat_map(|i| (0..3).map(move |f| (0.23 * i as f64 + f as f64).cos() as f32)).collect();
    let want_new = [
        1.0369338150936542, 1.0369338150936542, 0.9792159431920006, 0.9398554185453404, 0.762667398197646,
        0.6045398883414951, 0.6045398883414951, 0.3667667611644857, 0.4652736967968031, 0.4652736967968031,
    ];
    let want_train = [0.6831089526318177, 0.7296896303746544, 0.8496100208798789, 0.9792159431920006, 1.0369338150936542];
    for (got, want) in model.predict(&new).unwrap().iter().chain(&model.predict(&x[..15]).unwrap()).zip(want_new.iter().chain(&want_train)) {
        assert!((got - want).abs() < 1e-12, "{got} vs scikit-learn {want}");
    }
}

#[test]
fn one_stage_stump_matches_hand_computation() {
    // Binary, 4 points, x = [0, 1, 2, 3], y = [0, 0, 1, 1], one stage, depth 1,
    // learning rate 1. Prior 1/2 → raw 0, p = 1/2, residuals ∓1/2, hessians 1/4.
    // Best split at 1.5; each leaf: Σr / Σh = (±1) / (1/2) = ±2.
    let x = [0.0f32, 1.0, 2.0, 3.0];
    let y = [0usize, 0, 1, 1];
    let config = GbtConfig {
        num_stages: 1,
        max_depth: 1,
        learning_rate: 1.0,
        seed: 0,
    };
    let m = GradientBoostedTrees::fit(&x, 1, &y, &config).unwrap();
    let raw = m.decision_function(&[0.5, 1.4, 1.6, 10.0]).unwrap();
    assert_eq!(raw, vec![-2.0, -2.0, 2.0, 2.0]);
    assert_eq!(m.trees[0].nodes[0].threshold, 1.5);
    assert_eq!(m.feature_importances(), &[1.0]);

    // Three classes at x = 0, 1, 2 (two points each), one stage, depth 1, lr 1.
    // p = 1/3; class-0 tree: residuals 2/3 at x=0 and −1/3 elsewhere. Proxy of the
    // split at 0.5: n_l n_r (ȳ_l − ȳ_r)² = 2·4·1 = 8 beats the split at 1.5 (4·2·¼ = 2).
    // Leaf values ((K−1)/K = 2/3) · Σr / Σ p(1−p): left (2/3)(4/3)/(4/9) = 2,
    // right (2/3)(−4/3)/(8/9) = −1.
    let x = [0.0f32, 0.0, 1.0, 1.0, 2.0, 2.0];
    let y = [0usize, 0, 1, 1, 2, 2];
    let m = GradientBoostedTrees::fit(&x, 1, &y, &config).unwrap();
    let raw = m.decision_function(&[0.0]).unwrap();
    let init = (1.0f64 / 3.0).ln();
    assert!((raw[0] - (init + 2.0)).abs() < 1e-12, "{raw:?}");
    let raw = m.decision_function(&[2.0]).unwrap();
    assert!((raw[0] - (init - 1.0)).abs() < 1e-12, "{raw:?}");
}

/// A direct, slow regression tree: at every node, every feature sorted afresh, every
/// threshold's squared-error reduction computed from sums of that split.
#[allow(clippy::too_many_arguments)]
fn reference_tree(
    x: &[f32],
    f: usize,
    residual: &[f64],
    hessian: &[f64],
    leaf_scale: f64,
    samples: Vec<usize>,
    depth: usize,
    max_depth: usize,
    leaf_value: &mut [f64],
    importance: &mut [f64],
) {
    let n_total = residual.len() as f64;
    let count = samples.len() as f64;
    let mean = samples.iter().map(|&s| residual[s]).sum::<f64>() / count;
    let impurity = samples
        .iter()
        .map(|&s| (residual[s] - mean).powi(2))
        .sum::<f64>()
        / count;
    let mut best: Option<(f64, usize, Vec<usize>, Vec<usize>)> = None;
    if depth < max_depth && samples.len() >= 2 && impurity > f64::EPSILON {
        for feature in 0..f {
            let mut sorted = samples.clone();
            sorted.sort_by(|&a, &b| {
                x[a * f + feature]
                    .total_cmp(&x[b * f + feature])
                    .then(a.cmp(&b))
            });
            for i in 1..sorted.len() {
                if (x[sorted[i] * f + feature] as f64)
                    <= x[sorted[i - 1] * f + feature] as f64 + 1e-7
                {
                    continue;
                }
                let (l, r) = sorted.split_at(i);
                let ml = l.iter().map(|&s| residual[s]).sum::<f64>() / l.len() as f64;
                let mr = r.iter().map(|&s| residual[s]).sum::<f64>() / r.len() as f64;
                let reduction = (ml - mr).powi(2) * l.len() as f64 * r.len() as f64 / count;
                if best.as_ref().is_none_or(|b| reduction > b.0) {
                    best = Some((reduction, feature, l.to_vec(), r.to_vec()));
                }
            }
        }
    }
    match best {
        Some((reduction, feature, l, r)) => {
            importance[feature] += reduction / n_total;
            for side in [l, r] {
                reference_tree(
                    x,
                    f,
                    residual,
                    hessian,
                    leaf_scale,
                    side,
                    depth + 1,
                    max_depth,
                    leaf_value,
                    importance,
                );
            }
        }
        None => {
            let num: f64 = samples.iter().map(|&s| residual[s]).sum();
            let den: f64 = samples.iter().map(|&s| hessian[s]).sum();
            for &s in &samples {
                leaf_value[s] = leaf_scale * num / den;
            }
        }
    }
}

#[test]
fn trees_match_a_direct_construction() {
    // Continuous residuals, so that no two candidate splits tie exactly (with class
    // residuals many do, and rounding decides between equals).
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (n, f, outputs) = (400, 4, 3);
    let x: Vec<f32> = (0..n * f).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let mut rows = vec![0.0; n * outputs];
    for s in 0..n {
        for o in 0..outputs {
            let signal = if x[s * f + o] > 0.2 { 0.5 } else { -0.3 };
            rows[s * outputs + o] = signal + rng.random_range(-0.5..0.5);
        }
    }
    let hessian: Vec<f64> = (0..n).map(|_| rng.random_range(0.1..0.3)).collect();
    let data = SortedFeatures::new(&x, n, f);
    // Continuous residuals: no ties, so any feature order gives the direct construction.
    let orders: Vec<Vec<u32>> = (0..outputs).map(|o| (0..f as u32).rev().cycle().skip(o).take(f).collect()).collect();
    let roots = root_splits(&data, &rows, outputs, &orders);
    let mut order_rng = ChaCha8Rng::seed_from_u64(1);
    // One workspace for all trees, as in fitting: reuse must not leak state.
    let mut workspace = TreeWorkspace::default();
    for o in 0..outputs {
        let residual: Vec<f64> = (0..n).map(|s| rows[s * outputs + o]).collect();
        let (tree, importance) =
            fit_tree(&data, roots[o], &residual, &hessian, 0.7, 3, &mut order_rng, &mut workspace);
        let node_of = &workspace.node_of;
        let mut expected_value = vec![0.0; n];
        let mut expected_importance = vec![0.0; f];
        reference_tree(
            &x,
            f,
            &residual,
            &hessian,
            0.7,
            (0..n).collect(),
            0,
            3,
            &mut expected_value,
            &mut expected_importance,
        );
        for s in 0..n {
            let got = tree.nodes[node_of[s] as usize].value;
            assert!(
                (got - expected_value[s]).abs() < 1e-12,
                "output {o}, sample {s}: {got} vs {}",
                expected_value[s]
            );
            assert_eq!(got, tree.predict(&x[s * f..(s + 1) * f]));
        }
        for (a, b) in importance.iter().zip(&expected_importance) {
            assert!(
                (a - b).abs() < 1e-12,
                "{importance:?} vs {expected_importance:?}"
            );
        }
        assert_eq!(tree.nodes.len(), 15, "a full depth-3 tree");
    }
}

#[test]
fn separable_data_gets_perfect_accuracy() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let n = 600;
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let class = i % 3;
        x.push(class as f32 * 10.0 + rng.random_range(0.0..1.0));
        x.push(rng.random_range(0.0..1.0));
        y.push(class + 5);
    }
    let m = GradientBoostedTrees::fit(&x, 2, &y, &GbtConfig::default()).unwrap();
    assert_eq!(m.train_accuracy(&y).unwrap(), 1.0);
    assert_eq!(m.accuracy(&x, &y).unwrap(), 1.0);
    assert_eq!(m.classes(), &[5, 6, 7]);
}

#[test]
fn importance_concentrates_on_the_one_informative_feature() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let n = 2000;
    let mut x = Vec::new();
    let mut y = Vec::new();
    for _ in 0..n {
        let class = rng.random_range(0..4usize);
        for j in 0..4 {
            if j == 2 {
                x.push(class as f32 + rng.random_range(-0.3..0.3));
            } else {
                x.push(rng.random_range(-1.0..1.0));
            }
        }
        y.push(class);
    }
    let m = GradientBoostedTrees::fit(&x, 4, &y, &GbtConfig::default()).unwrap();
    let imp = m.feature_importances();
    assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(imp[2] > 0.95, "{imp:?}");
    // The scores kept during fitting agree with scoring the training rows afresh.
    let train = m.train_accuracy(&y).unwrap();
    assert_eq!(train, m.accuracy(&x, &y).unwrap());
    assert!(train > 0.8, "{train}");
    assert!(imp.iter().all(|&v| v >= 0.0));
}

#[test]
fn single_class_and_bad_input() {
    let m = GradientBoostedTrees::fit(&[1.0, 2.0], 1, &[3, 3], &GbtConfig::default()).unwrap();
    assert_eq!(m.predict(&[0.0]).unwrap(), vec![3]);
    assert_eq!(m.feature_importances(), &[0.0]);
    assert!(
        GradientBoostedTrees::fit(&[1.0, f32::NAN], 1, &[0, 1], &GbtConfig::default()).is_err()
    );
    assert!(GradientBoostedTrees::fit(&[1.0], 1, &[0, 1], &GbtConfig::default()).is_err());
}
