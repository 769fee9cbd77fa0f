//! disentanglement_lib's downstream-task family (LogisticRegressionCV, downstream task,
//! reduced downstream task, fairness, UDR) against numbers its own code printed on fixed
//! arrays (google-research/disentanglement_lib at 86a644d, numpy 1.26.4, scipy 1.11.4,
//! scikit-learn 1.3.2; `LogisticRegressionCV(Cs=10, cv=KFold(5), multi_class="ovr")`, the
//! study-era default, see `logistic_cv.rs`). Only the numbers are committed.
//!
//! The arrays: xorshift64* from seed 0x9E3779B97F4A7C15 (uniforms (out >> 11) / 2⁵³); 2,000
//! rows of 4 factors of sizes [3, 5, 4, 6], then per row the six "mixed" codes
//! z0 = f0 + 0.3 g, z1 = f1 + 0.5 g, z2 = 0.7 f2 + 0.7 f3 + 0.2 g, z3 = g, z4 = f1 − 0.5 f0 + 0.4 g,
//! z5 = 2 (g: Box–Muller, cos branch) — the arrays of `zaidi::golden`.

#![allow(clippy::excessive_precision)]

use disentangle_metrics::{Codes, Factors, LogisticCvConfig, LogisticRegressionCv};

/// Factor rows (2000 × 4) and mixed code rows (2000 × 6), from the crate's golden arrays.
fn arrays() -> (Vec<[usize; 4]>, Vec<[f64; 6]>) {
    let a = disentangle_metrics::zaidi::golden::arrays();
    let factors = (0..2000).map(|i| std::array::from_fn(|k| a.factors[k][i])).collect();
    let mixed = (0..2000).map(|i| std::array::from_fn(|j| a.mixed[j][i])).collect();
    (factors, mixed)
}

/// (factor or −1 for the binary problem f1 == 2, training rows 0..n, C per class, train
/// accuracy, accuracy on rows 1000..2000, predictions of rows 1000..1010); X = z0..z4.
#[allow(clippy::type_complexity)]
const LOGISTIC_CV: &[(i32, usize, &[f64], f64, f64, &[usize])] = &[
    (0, 10, &[10000.0, 9.999999999999999e-05, 166.81005372000556], 1.0, 0.47, &[1, 1, 0, 1, 0, 0, 0, 1, 1, 0]),
    (0, 25, &[2.782559402207126, 9.999999999999999e-05, 2.782559402207126], 0.92, 0.798, &[2, 2, 2, 1, 2, 0, 0, 2, 2, 0]),
    (0, 100, &[2.782559402207126, 9.999999999999999e-05, 0.3593813663804626], 0.84, 0.807, &[2, 2, 2, 1, 2, 0, 0, 2, 2, 0]),
    (0, 1000, &[0.3593813663804626, 9.999999999999999e-05, 21.54434690031882], 0.923, 0.919, &[2, 2, 2, 1, 2, 0, 0, 2, 2, 0]),
    (1, 10, &[21.54434690031882, 9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05], 0.6, 0.421, &[0, 4, 0, 4, 0, 0, 0, 4, 4, 3]),
    (1, 25, &[0.3593813663804626, 9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05, 0.3593813663804626], 0.64, 0.412, &[1, 4, 0, 1, 0, 0, 0, 1, 4, 0]),
    (1, 100, &[2.782559402207126, 9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05, 21.54434690031882], 0.63, 0.551, &[1, 4, 1, 1, 0, 0, 0, 1, 1, 1]),
    (1, 1000, &[21.54434690031882, 9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05, 0.3593813663804626], 0.723, 0.722, &[2, 4, 2, 2, 0, 0, 0, 2, 3, 2]),
    (2, 10, &[9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05], 0.4, 0.247, &[2, 2, 2, 2, 2, 2, 2, 2, 2, 2]),
    (2, 25, &[9.999999999999999e-05, 9.999999999999999e-05, 166.81005372000556, 9.999999999999999e-05], 0.48, 0.25, &[1, 1, 1, 2, 1, 1, 1, 1, 1, 2]),
    (2, 100, &[9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05, 0.046415888336127774], 0.43, 0.33, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    (2, 1000, &[0.046415888336127774, 9.999999999999999e-05, 9.999999999999999e-05, 0.046415888336127774], 0.382, 0.407, &[2, 2, 0, 2, 0, 0, 2, 0, 2, 3]),
    (3, 10, &[9.999999999999999e-05, 0.3593813663804626, 9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05], 0.4, 0.18, &[1, 1, 1, 1, 1, 1, 1, 1, 1, 3]),
    (3, 25, &[9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05, 0.3593813663804626], 0.44, 0.308, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 5]),
    (3, 100, &[21.54434690031882, 9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05, 166.81005372000556, 0.3593813663804626], 0.53, 0.36, &[3, 3, 0, 3, 3, 0, 3, 0, 3, 5]),
    (3, 1000, &[0.046415888336127774, 9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05, 9.999999999999999e-05, 0.046415888336127774], 0.367, 0.388, &[3, 3, 0, 3, 0, 0, 3, 0, 3, 5]),
    (-1, 25, &[9.999999999999999e-05], 0.96, 0.807, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    (-1, 1000, &[9.999999999999999e-05], 0.787, 0.807, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
];

#[test]
fn logistic_regression_cv_equals_scikit_learn_one_vs_rest() {
    let (factors, mixed) = arrays();
    let x: Vec<f64> = mixed.iter().flat_map(|r| r[..5].to_vec()).collect();
    let mut c_agree = 0;
    let mut c_total = 0;
    let mut worst: f64 = 0.0;
    let mut exact = 0;
    for &(k, n, cs, train_acc, test_acc, predictions) in LOGISTIC_CV {
        let y: Vec<usize> = factors.iter().map(|r| if k < 0 { usize::from(r[1] == 2) } else { r[k as usize] }).collect();
        let model = LogisticRegressionCv::fit(&x[..n * 5], 5, &y[..n], &LogisticCvConfig::default()).unwrap();
        for (ours, theirs) in model.chosen_c().iter().zip(cs) {
            c_total += 1;
            // numpy's logspace goes through its own pow (1e-4 prints as 9.999999999999999e-05).
            c_agree += usize::from((ours / theirs - 1.0).abs() < 1e-12);
        }
        let ours_train = model.accuracy(&x[..n * 5], &y[..n]).unwrap();
        let ours_test = model.accuracy(&x[5000..], &y[1000..]).unwrap();
        let ours_pred = model.predict(&x[5000..5050]).unwrap();
        println!("factor {k} n {n}: C {:?} vs {cs:?}; train {ours_train} vs {train_acc}; test {ours_test} vs {test_acc}; pred {ours_pred:?} vs {predictions:?}", model.chosen_c());
        // Accuracies agree up to the few points whose margins the solvers' stopping points
        // put on different sides (see logistic_cv.rs): at most 1 % of the rows.
        let diff = (ours_train - train_acc).abs().max((ours_test - test_acc).abs());
        worst = worst.max(diff);
        exact += usize::from(diff < 1e-12);
    }
    println!("C chosen as scikit-learn chose it: {c_agree} of {c_total}; largest accuracy difference {worst}");
    // Measured: 73 of 74 Cs and 16 of 18 cases exactly; the exceptions are factor 1 at n = 10
    // (one test point) and factor 0 at n = 10, a separable problem where both solvers stop at
    // the 100-iteration cap far from the optimum and pick C = 1,292 vs 10,000 (test accuracy
    // 0.501 vs 0.470).
    assert!(c_agree + 1 >= c_total, "{c_agree} of {c_total}");
    assert!(exact + 2 >= LOGISTIC_CV.len(), "{exact} of {} cases equal", LOGISTIC_CV.len());
    assert!(worst <= 0.035, "{worst}");
}

/// disentanglement_lib's `downstream_task._compute_loss` on x = z0..z5 (the constant included),
/// training rows 0..n, test rows 1000..2000: (n, train accuracy per factor, test accuracy per
/// factor) with the one-vs-rest logistic regression.
#[allow(clippy::type_complexity)]
const DOWNSTREAM_LOGISTIC: &[(usize, &[f64], &[f64])] = &[
    (10, &[1.0, 0.6, 0.4, 0.4], &[0.479, 0.421, 0.247, 0.18]),
    (100, &[0.84, 0.63, 0.43, 0.53], &[0.807, 0.551, 0.33, 0.36]),
    (1000, &[0.923, 0.723, 0.382, 0.367], &[0.919, 0.722, 0.407, 0.388]),
];

/// The same with gradient-boosted trees, whose reference results move with numpy's global seed
/// (the order in which tied features are tried): the range over seeds 0..9, (n, train min,
/// train max, test min, test max).
#[allow(clippy::type_complexity)]
const DOWNSTREAM_TREES: &[(usize, &[f64], &[f64], &[f64], &[f64])] = &[
    (10, &[1.0, 1.0, 1.0, 1.0], &[1.0, 1.0, 1.0, 1.0], &[0.566, 0.528, 0.272, 0.181], &[0.583, 0.537, 0.277, 0.23]),
    (100, &[1.0, 1.0, 1.0, 1.0], &[1.0, 1.0, 1.0, 1.0], &[0.899, 0.776, 0.352, 0.36], &[0.904, 0.783, 0.359, 0.364]),
    (1000, &[0.996, 0.999, 0.847, 0.916], &[0.998, 1.0, 0.847, 0.927], &[0.916, 0.87, 0.372, 0.371], &[0.92, 0.872, 0.376, 0.383]),
];

fn sample(rows: std::ops::Range<usize>, factors: &[[usize; 4]], mixed: &[[f64; 6]]) -> (Vec<f32>, Vec<usize>) {
    let codes = mixed[rows.clone()].iter().flat_map(|r| r.map(|v| v as f32)).collect();
    let f = factors[rows].iter().flat_map(|r| r.to_vec()).collect();
    (codes, f)
}

#[test]
fn downstream_accuracies_equal_the_reference_loss() {
    use disentangle_metrics::downstream::{PredictorConfig, factor_accuracies};
    use disentangle_metrics::Predictor;
    let (factors, mixed) = arrays();
    let (test_codes, test_factors) = sample(1000..2000, &factors, &mixed);
    let test = (Codes::new(&test_codes, 1000, 6).unwrap(), Factors::new(&test_factors, 1000, 4).unwrap());
    let config = PredictorConfig::default();
    let mut worst: f64 = 0.0;
    for &(n, train_ref, test_ref) in DOWNSTREAM_LOGISTIC {
        let (c, f) = sample(0..n, &factors, &mixed);
        let train = (Codes::new(&c, n, 6).unwrap(), Factors::new(&f, n, 4).unwrap());
        let (tr, te) = factor_accuracies(Predictor::LogisticRegressionCv, (&train.0, &train.1), (&test.0, &test.1), &config, 0).unwrap();
        println!("logistic n {n}: train {tr:?} vs {train_ref:?}; test {te:?} vs {test_ref:?}");
        for (a, b) in tr.iter().chain(&te).zip(train_ref.iter().chain(test_ref)) {
            worst = worst.max((a - b).abs());
        }
    }
    // The codes reach our classifiers as float32 (scikit-learn's logistic regression gets
    // float64) and the solvers stop at different points: see the LogisticRegressionCV test.
    assert!(worst <= 0.035, "logistic: largest difference {worst}");
    for &(n, train_min, train_max, test_min, test_max) in DOWNSTREAM_TREES {
        let (c, f) = sample(0..n, &factors, &mixed);
        let train = (Codes::new(&c, n, 6).unwrap(), Factors::new(&f, n, 4).unwrap());
        let (tr, te) = factor_accuracies(Predictor::BoostedTrees, (&train.0, &train.1), (&test.0, &test.1), &config, 0).unwrap();
        println!("trees n {n}: train {tr:?} in {train_min:?}..{train_max:?}; test {te:?} in {test_min:?}..{test_max:?}");
        if n == 10 {
            assert!((0.465..=0.48).contains(&te[1]), "trees n 10 factor 1: {} (exact ties to the first class: 0.471)", te[1]);
        }
        for k in 0..4 {
            // With 10 training rows, factor 1's classes 3 and 4 (two rows each) get mirror-image
            // trees, so 66 of the 1,000 test rows have *exactly* tied scores for the two classes.
            // scikit-learn's summation order leaves the second a few ulps ahead (7.520335056205389
            // vs …388), so it predicts class 4 there (0.528..0.537); ties going to the first class,
            // as numpy's argmax of the exact scores would, give 0.471 — ours, 0.468..0.475 over
            // 10 seeds. Checked separately below; every other case is inside the range.
            // Within the reference's own spread over seeds, widened by 0.005 (5 test points).
            if n > 10 || k != 1 { assert!(tr[k] >= train_min[k] - 0.005 && tr[k] <= train_max[k] + 0.005, "trees n {n} factor {k} train {}", tr[k]); }
            if n > 10 || k != 1 { assert!(te[k] >= test_min[k] - 0.005 && te[k] <= test_max[k] + 0.005, "trees n {n} factor {k} test {}", te[k]); }
        }
    }
}

/// disentanglement_lib's `fairness.inter_group_fairness` on hand-made count matrices (rows:
/// predicted class, columns: value of the sensitive factor): (counts, mean, max); a column
/// without predictions gives NaN there.
#[allow(clippy::type_complexity)]
const INTER_GROUP: &[(&[&[u64]], f64, f64)] = &[
    (&[&[10, 5, 0], &[0, 5, 10]], 0.3333333333333333, 0.5),
    (&[&[3, 1], &[1, 3], &[0, 4]], 0.27777778108914697, 0.4166666865348816),
    (&[&[5, 0, 2], &[5, 0, 8]], f64::NAN, f64::NAN),
    (&[&[4, 8], &[6, 12]], 0.0, 0.0),
    (&[&[7, 0, 3, 1], &[2, 9, 3, 0], &[1, 1, 4, 13]], 0.4039256024089727, 0.581818163394928),
];

#[test]
fn fairness_of_counts_and_its_aggregates_equal_the_reference_bit_for_bit() {
    use disentangle_metrics::fairness::{fairness_scores, inter_group_fairness};
    for &(counts, mean, max) in INTER_GROUP {
        let c: Vec<Vec<u64>> = counts.iter().map(|r| r.to_vec()).collect();
        let (m, x) = inter_group_fairness(&c);
        let same = |a: f64, b: f64| (a.is_nan() && b.is_nan()) || a == b;
        assert!(same(m, mean) && same(x, max), "{counts:?}: ({m}, {x}) vs ({mean}, {max})");
    }
    // compute_scores_dict on a fixed matrix (the diagonal is ignored).
    let matrix = vec![vec![9.0, 0.1, 0.25], vec![0.3, 9.0, 0.05], vec![0.2, 0.4, 9.0]];
    let expected = [
        ("pred0:sens1", 0.1), ("pred0:sens2", 0.25), ("pred1:sens0", 0.3), ("pred1:sens2", 0.05), ("pred2:sens0", 0.2),
        ("pred2:sens1", 0.4), ("pred0:mean_sens", 0.175), ("pred0:max_sens", 0.25), ("pred1:mean_sens", 0.175),
        ("pred1:max_sens", 0.3), ("pred2:mean_sens", 0.30000000000000004), ("pred2:max_sens", 0.4), ("sens0:mean_pred", 0.25),
        ("sens0:max_pred", 0.3), ("sens1:mean_pred", 0.25), ("sens1:max_pred", 0.4), ("sens2:mean_pred", 0.15),
        ("sens2:max_pred", 0.25), ("mean_sens:mean_pred", 0.21666666666666667), ("mean_sens:max_pred", 0.31666666666666665),
        ("max_sens:mean_pred", 0.25), ("max_sens:max_pred", 0.4), ("mean_pred:mean_sens", 0.21666666666666667),
        ("mean_pred:max_sens", 0.3166666666666667), ("max_pred:mean_sens", 0.30000000000000004), ("max_pred:max_sens", 0.4),
    ];
    let ours = fairness_scores(&matrix, "mean_fairness");
    assert_eq!(ours.len(), expected.len());
    for (key, value) in expected {
        let got = ours.iter().find(|(k, _)| *k == format!("mean_fairness:{key}")).unwrap_or_else(|| panic!("{key} missing")).1;
        assert!((got - value).abs() <= 1e-16, "{key}: {got} vs {value}");
    }
}

/// disentanglement_lib's `compute_udr_sklearn` on four models of the first 1,000 rows (batches
/// of 10): A = z0..z4 (mean KL 1.0099, 2.0099, 0.5099, 0.0109, 1.5099); B = A's columns
/// [2, 0, 4, 1, 3] with signs [+, −, +, −, +] (KL permuted alike); C_j = A_j + 0.3 A_{(j+1) mod 5}
/// (KL 0.8); D = A_0, A_1 and three zero columns (KL 1, 1, 0, 0, 0). (correlation,
/// filter_low_kl, model scores, pairwise scores).
#[allow(clippy::type_complexity)]
const UDR_ABCD: &[(&str, bool, &[f64], &[&[f64]])] = &[
    ("lasso", true, &[0.7543668687630358, 0.7543668687630358, 0.6696907465585069, 0.6300000000000001], &[&[0.0, 0.9000000000000001, 0.6696907465585069, 0.6300000000000001], &[0.9000000000000001, 0.0, 0.6698553139608421, 0.6300000000000001], &[0.7543668687630358, 0.7543668687630358, 0.0, 0.5117686460633913], &[0.5582461920684119, 0.5582461920684119, 0.5239960745127261, 0.0]]),
    ("lasso", false, &[0.7543668687630358, 0.7543668687630358, 0.6696907465585069, 0.36000000000000004], &[&[0.0, 0.9000000000000001, 0.6696907465585069, 0.36000000000000004], &[0.9000000000000001, 0.0, 0.6698553139608421, 0.36000000000000004], &[0.7543668687630358, 0.7543668687630358, 0.0, 0.31021421923602366], &[0.3701001582668052, 0.3701001582668052, 0.35786724156327454, 0.0]]),
    ("spearman", true, &[0.584303610282298, 0.584303610282298, 0.5496408296140949, 0.584303610282298], &[&[0.0, 0.7187862413927861, 0.5496408296140949, 0.584303610282298], &[0.7187862413927861, 0.0, 0.5496408296140949, 0.584303610282298], &[0.5496408296140949, 0.5496408296140949, 0.0, 0.5365527130828063], &[0.584303610282298, 0.584303610282298, 0.5365527130828063, 0.0]]),
    ("spearman", false, &[0.5496408296140949, 0.5496408296140949, 0.5496408296140949, 0.12653643135238327], &[&[0.0, 0.7187862413927861, 0.5496408296140949, 0.12653643135238327], &[0.7187862413927861, 0.0, 0.5496408296140949, 0.12653643135238327], &[0.5496408296140949, 0.5496408296140949, 0.0, 0.10572679658769306], &[0.12653643135238327, 0.12653643135238327, 0.10572679658769306, 0.0]]),
];

#[test]
fn udr_equals_the_reference_on_four_models() {
    use disentangle_metrics::{UdrConfig, UdrCorrelation, UdrModel, udr};
    let (_, mixed) = arrays();
    let a: Vec<[f64; 5]> = mixed[..1000].iter().map(|r| [r[0], r[1], r[2], r[3], r[4]]).collect();
    let kl_a = [1.0099, 2.0099, 0.5099, 0.0109, 1.5099];
    let (perm, signs) = ([2usize, 0, 4, 1, 3], [1.0, -1.0, 1.0, -1.0, 1.0]);
    let to_f32 = |rows: Vec<[f64; 5]>| rows.iter().flat_map(|r| r.map(|v| v as f32)).collect::<Vec<f32>>();
    let codes = [
        to_f32(a.clone()),
        to_f32(a.iter().map(|r| std::array::from_fn(|c| r[perm[c]] * signs[c])).collect()),
        to_f32(a.iter().map(|r| std::array::from_fn(|j| r[j] + 0.3 * r[(j + 1) % 5])).collect()),
        to_f32(a.iter().map(|r| [r[0], r[1], 0.0, 0.0, 0.0]).collect()),
    ];
    let kls: [Vec<f64>; 4] = [kl_a.to_vec(), perm.iter().map(|&p| kl_a[p]).collect(), vec![0.8; 5], vec![1.0, 1.0, 0.0, 0.0, 0.0]];
    let models: Vec<UdrModel> = codes.iter().zip(&kls).map(|(c, k)| UdrModel { codes: Codes::new(c, 1000, 5).unwrap(), kl: k }).collect();
    for &(correlation, filter_low_kl, scores, pairwise) in UDR_ABCD {
        let config = UdrConfig {
            correlation: if correlation == "lasso" { UdrCorrelation::Lasso } else { UdrCorrelation::Spearman },
            filter_low_kl,
            ..UdrConfig::default()
        };
        let r = udr(&models, &config).unwrap();
        println!("{correlation} {filter_low_kl}: {:?} vs {scores:?}", r.model_scores);
        // The codes reach us as float32 (the reference's are float64): 1e-6.
        for (ours, theirs) in r.model_scores.iter().zip(scores) {
            assert!((ours - theirs).abs() < 1e-6, "{correlation} {filter_low_kl}: {:?} vs {scores:?}", r.model_scores);
        }
        for (row, expected) in r.pairwise.iter().zip(pairwise) {
            for (ours, theirs) in row.iter().zip(*expected) {
                assert!((ours - theirs).abs() < 1e-6, "{correlation} {filter_low_kl}: pairwise {:?} vs {pairwise:?}", r.pairwise);
            }
        }
    }
}

/// disentanglement_lib's `compute_reduced_downstream_task` (one code removed by boosted-trees
/// importance, boosted-trees predictors) on codes z0..z5: training size 100 = rows 0..100 with
/// test rows 100..1100; size 1000 = rows 1100..2000 and 0..100 with test rows 100..1100.
/// (size, factor of interest, split, accuracies per factor with numpy's global seed 0, with
/// seed 12345). The reference removed z0, z1, z2, z2 for factors 0..3 at both sizes.
#[allow(clippy::type_complexity)]
const REDUCED: &[(usize, usize, &str, [f64; 4], [f64; 4])] = &[
    (100, 0, "train", [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]),
    (100, 0, "test", [0.505, 0.766, 0.349, 0.314], [0.51, 0.766, 0.343, 0.311]),
    (100, 1, "train", [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]),
    (100, 1, "test", [0.909, 0.679, 0.349, 0.317], [0.908, 0.68, 0.352, 0.312]),
    (100, 2, "train", [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]),
    (100, 2, "test", [0.904, 0.777, 0.238, 0.148], [0.904, 0.779, 0.238, 0.145]),
    (100, 3, "train", [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]),
    (100, 3, "test", [0.905, 0.779, 0.237, 0.147], [0.906, 0.779, 0.243, 0.149]),
    (1000, 0, "train", [0.806, 0.992, 0.832, 0.896], [0.806, 0.996, 0.832, 0.896]),
    (1000, 0, "test", [0.552, 0.812, 0.345, 0.37], [0.552, 0.812, 0.345, 0.369]),
    (1000, 1, "train", [0.993, 0.98, 0.847, 0.913], [0.993, 0.98, 0.847, 0.913]),
    (1000, 1, "test", [0.932, 0.796, 0.356, 0.351], [0.932, 0.796, 0.355, 0.354]),
    (1000, 2, "train", [0.995, 1.0, 0.797, 0.813], [0.995, 1.0, 0.797, 0.813]),
    (1000, 2, "test", [0.929, 0.87, 0.235, 0.154], [0.928, 0.87, 0.235, 0.153]),
    (1000, 3, "train", [0.995, 1.0, 0.797, 0.813], [0.995, 1.0, 0.797, 0.813]),
    (1000, 3, "test", [0.928, 0.869, 0.236, 0.15], [0.929, 0.869, 0.236, 0.152]),
];

#[test]
#[allow(clippy::single_range_in_vec_init)] // lists of row ranges, here of one range
fn reduced_downstream_removes_the_reference_codes_and_scores_within_its_spread() {
    use disentangle_metrics::reduced_downstream::{ReducedDownstreamConfig, reduced_downstream_for_size};
    let (factors, mixed) = arrays();
    let rows = |r: &[std::ops::Range<usize>]| -> (Vec<f32>, Vec<usize>) {
        let mut c = Vec::new();
        let mut f = Vec::new();
        for range in r {
            let (a, b) = sample(range.clone(), &factors, &mixed);
            c.extend(a);
            f.extend(b);
        }
        (c, f)
    };
    let (tc, tf) = rows(&[100..1100]);
    let test = (Codes::new(&tc, 1000, 6).unwrap(), Factors::new(&tf, 1000, 4).unwrap());
    let config = ReducedDownstreamConfig::default();
    let mut worst = f64::NEG_INFINITY;
    for (n, ranges) in [(100, vec![0..100]), (1000, vec![1100..2000, 0..100])] {
        let (c, f) = rows(&ranges);
        let train = (Codes::new(&c, n, 6).unwrap(), Factors::new(&f, n, 4).unwrap());
        let per_factor = reduced_downstream_for_size((&train.0, &train.1), (&test.0, &test.1), &config, 0).unwrap();
        let removed: Vec<usize> = per_factor.iter().map(|r| r.removed_codes[0]).collect();
        assert_eq!(removed, vec![0, 1, 2, 2], "size {n}");
        for &(size, f, split, seed0, seed1) in REDUCED.iter().filter(|c| c.0 == n) {
            let ours = if split == "train" { &per_factor[f].train_accuracy } else { &per_factor[f].test_accuracy };
            println!("size {size} factor {f} {split}: {ours:?} vs {seed0:?} / {seed1:?}");
            for k in 0..4 {
                // The reference's two seeds differ by up to 0.006; measure the distance beyond their range ± 0.01.
                let (lo, hi) = (seed0[k].min(seed1[k]) - 0.01, seed0[k].max(seed1[k]) + 0.01);
                worst = worst.max(lo - ours[k]).max(ours[k] - hi);
            }
        }
    }
    println!("largest distance outside the reference range ± 0.01: {worst}");
    // Measured: 0.005 (size 100, factor 3's own accuracy, 0.164 vs 0.147/0.149: its trees'
    // ties; the reference's two seeds are only a glimpse of its spread, which reaches 0.049 in
    // the downstream task). Every removed code equals the reference's.
    assert!(worst <= 0.01, "{worst}");
}

// disentanglement_lib's `unified_scores.unified_scores` on codes z0..z4, training rows 0..1500,
// test rows 1500..2000 (20 histogram bins): its three matrices [code][factor] and every key it
// returned (numpy's global seed 0; the trees' importances move by up to 0.009 with the seed).
const UNIFIED_MATRICES: [(&str, [[f64; 4]; 5]); 3] = [
    ("importance_gbt_matrix", [[0.9551907913924552, 0.046913161068201537, 0.10978009296988323, 0.07715645624330433], [0.0068918818185131885, 0.6383249348634171, 0.09083953514503156, 0.07956579273797837], [0.00759562557833907, 0.008656004688075477, 0.5888447187973493, 0.7027760945881915], [0.012163068757414026, 0.010198070322247692, 0.11325560483020065, 0.08235110298292365], [0.01815863245327852, 0.2959078290580581, 0.09728004825753528, 0.05815055344760221]]),
    ("mutual_information_matrix", [[0.921380727940948, 0.02494811188130111, 0.018509600856581338, 0.030947935932609853], [0.012561927967820834, 0.9970929835458225, 0.016488725181488403, 0.0322564854500344], [0.013512083283277701, 0.021561579350909042, 0.26870580088951146, 0.6620193153420743], [0.013019088080591929, 0.024533454009775822, 0.02194823908671488, 0.040624652623166654], [0.08183307276090673, 0.9308758092879746, 0.017368010815605506, 0.026493460239859982]]),
    ("accuracy_svm_matrix", [[0.788, 0.19, 0.248, 0.18], [0.332, 0.532, 0.26, 0.134], [0.342, 0.2, 0.406, 0.372], [0.328, 0.184, 0.246, 0.176], [0.41, 0.542, 0.244, 0.144]]),
];
const UNIFIED_SCORES: &[(&str, f64)] = &[
    ("importance_gbt_matrix.area_precision", 2.2327849477763175),
    ("importance_gbt_matrix.max_precision", 3.0),
    ("importance_gbt_matrix.dci_disentanglement", 0.4432766482044221),
    ("importance_gbt_matrix.dci_completeness", 0.47443130777820974),
    ("importance_gbt_matrix.dci", 0.4432766482044221),
    ("importance_gbt_matrix.dci_disentanglement.code_0", 0.4944063906189219),
    ("importance_gbt_matrix.dci_disentanglement.code_1", 0.49242294588908275),
    ("importance_gbt_matrix.dci_disentanglement.code_2", 0.4545551882548763),
    ("importance_gbt_matrix.dci_disentanglement.code_3", 0.26982463900044373),
    ("importance_gbt_matrix.dci_disentanglement.code_4", 0.2775161352333462),
    ("importance_gbt_matrix.dci_completeness.code_0", 0.8498955406887154),
    ("importance_gbt_matrix.dci_completeness.code_1", 0.45429239333740046),
    ("importance_gbt_matrix.dci_completeness.code_2", 0.22604233533378615),
    ("importance_gbt_matrix.dci_completeness.code_3", 0.3674949617529366),
    ("importance_gbt_matrix.mig", 0.43925759362865585),
    ("importance_gbt_matrix.mig.factor_0", 0.8539926467731579),
    ("importance_gbt_matrix.mig.factor_1", 0.212867273055234),
    ("importance_gbt_matrix.mig.factor_2", 0.3435671299547242),
    ("importance_gbt_matrix.mig.factor_3", 0.34660332473150723),
    ("importance_gbt_matrix.sap", 0.593865842579238),
    ("importance_gbt_matrix.sap.factor_0", 0.9370321589391767),
    ("importance_gbt_matrix.sap.factor_1", 0.342417105805359),
    ("importance_gbt_matrix.sap.factor_2", 0.4755891139671487),
    ("importance_gbt_matrix.sap.factor_3", 0.6204249916052678),
    ("importance_gbt_matrix.modularity", 0.902721013280064),
    ("importance_gbt_matrix.modularity.code_0", 0.9926180527847077),
    ("importance_gbt_matrix.modularity.code_1", 0.988031479225053),
    ("importance_gbt_matrix.modularity.code_2", 0.7658940617088366),
    ("importance_gbt_matrix.modularity.code_3", 0.817215323096639),
    ("importance_gbt_matrix.modularity.code_4", 0.9498461495850836),
    ("mutual_information_matrix.area_precision", 2.4906493399721654),
    ("mutual_information_matrix.max_precision", 3.0),
    ("mutual_information_matrix.dci_disentanglement", 0.6542632255372929),
    ("mutual_information_matrix.dci_completeness", 0.5495104976794846),
    ("mutual_information_matrix.dci", 0.6542632255372929),
    ("mutual_information_matrix.dci_disentanglement.code_0", 0.7502823329685562),
    ("mutual_information_matrix.dci_disentanglement.code_1", 0.7979777313055),
    ("mutual_information_matrix.dci_disentanglement.code_2", 0.45219156917100645),
    ("mutual_information_matrix.dci_disentanglement.code_3", 0.05607732860747605),
    ("mutual_information_matrix.dci_disentanglement.code_4", 0.6612028598268072),
    ("mutual_information_matrix.dci_completeness.code_0", 0.7060369309272843),
    ("mutual_information_matrix.dci_completeness.code_1", 0.4653951612778655),
    ("mutual_information_matrix.dci_completeness.code_2", 0.4894776305832377),
    ("mutual_information_matrix.dci_completeness.code_3", 0.5818090275843784),
    ("mutual_information_matrix.mig", 0.33292882842402965),
    ("mutual_information_matrix.mig.factor_0", 0.7651471908403742),
    ("mutual_information_matrix.mig.factor_1", 0.04116461787310253),
    ("mutual_information_matrix.mig.factor_2", 0.17825846894609182),
    ("mutual_information_matrix.mig.factor_3", 0.34714503603655006),
    ("mutual_information_matrix.sap", 0.4434792634898984),
    ("mutual_information_matrix.sap.factor_0", 0.8395476551800414),
    ("mutual_information_matrix.sap.factor_1", 0.0662171742578479),
    ("mutual_information_matrix.sap.factor_2", 0.24675756180279657),
    ("mutual_information_matrix.sap.factor_3", 0.6213946627189076),
    ("mutual_information_matrix.modularity", 0.9374568232344462),
    ("mutual_information_matrix.modularity.code_0", 0.9992450260288488),
    ("mutual_information_matrix.modularity.code_1", 0.999507084691018),
    ("mutual_information_matrix.modularity.code_2", 0.9445924838112043),
    ("mutual_information_matrix.modularity.code_3", 0.7469016060682843),
    ("mutual_information_matrix.modularity.code_4", 0.9970379155728758),
    ("accuracy_svm_matrix.area_precision", 0.899),
    ("accuracy_svm_matrix.max_precision", 2.0),
    ("accuracy_svm_matrix.dci_disentanglement", 0.07634033394458353),
    ("accuracy_svm_matrix.dci_completeness", 0.047768074613575795),
    ("accuracy_svm_matrix.dci", 0.07634033394458353),
    ("accuracy_svm_matrix.dci_disentanglement.code_0", 0.16022266203025348),
    ("accuracy_svm_matrix.dci_disentanglement.code_1", 0.07673860951334555),
    ("accuracy_svm_matrix.dci_disentanglement.code_2", 0.0222821724799398),
    ("accuracy_svm_matrix.dci_disentanglement.code_3", 0.02371126752155117),
    ("accuracy_svm_matrix.dci_disentanglement.code_4", 0.07788715276435032),
    ("accuracy_svm_matrix.dci_completeness.code_0", 0.04355079925870475),
    ("accuracy_svm_matrix.dci_completeness.code_1", 0.08009822746553741),
    ("accuracy_svm_matrix.dci_completeness.code_2", 0.014186806477711755),
    ("accuracy_svm_matrix.dci_completeness.code_3", 0.050895325451982054),
    ("accuracy_svm_matrix.mig", 0.1408627337486115),
    ("accuracy_svm_matrix.mig.factor_0", 0.3445017520484134),
    ("accuracy_svm_matrix.mig.factor_1", 0.006216607448818134),
    ("accuracy_svm_matrix.mig.factor_2", 0.10547087706648937),
    ("accuracy_svm_matrix.mig.factor_3", 0.10726169843072511),
    ("accuracy_svm_matrix.sap", 0.1815),
    ("accuracy_svm_matrix.sap.factor_0", 0.37800000000000006),
    ("accuracy_svm_matrix.sap.factor_1", 0.010000000000000009),
    ("accuracy_svm_matrix.sap.factor_2", 0.14600000000000002),
    ("accuracy_svm_matrix.sap.factor_3", 0.192),
    ("accuracy_svm_matrix.modularity", 0.6864349175389911),
    ("accuracy_svm_matrix.modularity.code_0", 0.9302116347582605),
    ("accuracy_svm_matrix.modularity.code_1", 0.7694188478715587),
    ("accuracy_svm_matrix.modularity.code_2", 0.4027437372095092),
    ("accuracy_svm_matrix.modularity.code_3", 0.6116275034701566),
    ("accuracy_svm_matrix.modularity.code_4", 0.7181728643854706),
];

#[test]
fn unified_scores_equal_the_reference() {
    use disentangle_metrics::unified::{UnifiedConfig, aggregate, unified};
    let (factors, mixed) = arrays();
    let codes: Vec<f32> = mixed.iter().flat_map(|r| r[..5].iter().map(|&v| v as f32).collect::<Vec<_>>()).collect();
    let f: Vec<usize> = factors.iter().flat_map(|r| r.to_vec()).collect();
    let c = Codes::new(&codes, 2000, 5).unwrap();
    let fa = Factors::new(&f, 2000, 4).unwrap();
    let config = UnifiedConfig { num_train: 1500, num_test: 500, ..Default::default() };
    let ours = unified(&c, &fa, &config, Some(0)).unwrap();
    // 1. The aggregations of the reference's own matrices: exact arithmetic, 1e-12.
    for (name, m) in UNIFIED_MATRICES {
        let m: Vec<Vec<f64>> = m.iter().map(|r| r.to_vec()).collect();
        for (key, value) in aggregate(&m, &ours.factor_entropies).unwrap() {
            let full = format!("{name}.{key}");
            let theirs = UNIFIED_SCORES.iter().find(|(k, _)| *k == full).unwrap_or_else(|| panic!("{full} not in the reference")).1;
            assert!((value - theirs).abs() <= 1e-12 * theirs.abs().max(1.0), "{full}: {value} vs {theirs}");
        }
    }
    assert_eq!(UNIFIED_SCORES.len(), 3 * aggregate(&vec![vec![1.0, 0.0, 0.0, 0.0]; 5], &ours.factor_entropies).unwrap().len());
    // 2. Our matrices: mutual information exactly (1e-12), SVM accuracies to the solver (one
    // test row = 0.002), importances within the reference's spread over seeds (0.009) + 0.01.
    for ((name, m), (theirs_name, theirs)) in ours.matrices.iter().zip(UNIFIED_MATRICES) {
        assert_eq!(name, theirs_name);
        let tol = match theirs_name {
            "mutual_information_matrix" => 1e-12,
            "accuracy_svm_matrix" => 0.0021,
            _ => 0.02,
        };
        for (row, trow) in m.iter().zip(theirs) {
            for (a, b) in row.iter().zip(trow) {
                assert!((a - b).abs() <= tol, "{name}: {m:?} vs {theirs:?}");
            }
        }
    }
}

/// The reference's interventions under numpy's global seed 0, in order: (target, intervened
/// factor, training value, the 200 test values).
#[allow(clippy::type_complexity)]
const STRONG_DRAWS: &[(usize, usize, usize, &[usize])] = &[
    (0, 1, 3, &[1, 0, 2, 0, 4, 1, 0, 2, 2, 2, 1, 2, 0, 4, 4, 0, 4, 2, 1, 4, 2, 4, 0, 0, 4, 4, 2, 4, 1, 4, 0, 1, 4, 2, 4, 0, 0, 0, 0, 4, 0, 0, 2, 4, 0, 0, 2, 0, 0, 2, 0, 0, 2, 0, 2, 0, 4, 4, 0, 4, 4, 4, 2, 4, 1, 2, 1, 4, 4, 1, 0, 4, 2, 1, 1, 4, 1, 1, 2, 0, 0, 1, 0, 1, 0, 0, 2, 1, 2, 4, 0, 4, 1, 1, 1, 4, 4, 1, 1, 4, 1, 0, 1, 0, 2, 4, 0, 4, 4, 2, 1, 0, 0, 0, 2, 1, 4, 4, 0, 4, 2, 0, 0, 0, 0, 2, 4, 1, 1, 0, 2, 1, 1, 4, 0, 4, 4, 0, 2, 4, 1, 0, 2, 2, 2, 1, 4, 4, 1, 1, 2, 2, 4, 0, 4, 4, 4, 4, 0, 1, 4, 1, 0, 1, 0, 0, 4, 0, 2, 1, 4, 2, 1, 2, 4, 1, 1, 0, 2, 2, 1, 2, 1, 1, 0, 1, 2, 4, 0, 4, 1, 0, 0, 1, 2, 1, 1, 1, 1, 1]),
    (0, 3, 4, &[2, 0, 1, 1, 1, 1, 3, 1, 3, 3, 2, 2, 0, 1, 3, 2, 1, 2, 2, 0, 3, 3, 2, 1, 3, 0, 3, 0, 1, 2, 1, 1, 0, 1, 2, 3, 0, 0, 1, 1, 1, 5, 2, 1, 5, 0, 2, 5, 0, 3, 3, 2, 5, 5, 0, 3, 3, 1, 5, 2, 3, 2, 2, 1, 3, 2, 3, 1, 0, 0, 0, 2, 2, 2, 3, 5, 3, 0, 5, 1, 5, 1, 2, 0, 2, 3, 2, 2, 5, 1, 0, 2, 2, 1, 3, 3, 5, 1, 2, 3, 3, 0, 0, 5, 3, 3, 1, 0, 0, 3, 5, 3, 2, 0, 0, 1, 5, 1, 0, 5, 3, 3, 5, 2, 3, 1, 3, 3, 2, 3, 1, 1, 1, 0, 3, 3, 5, 2, 0, 3, 1, 0, 0, 1, 5, 3, 2, 5, 2, 2, 3, 0, 1, 2, 5, 3, 3, 5, 2, 2, 2, 5, 2, 5, 3, 5, 1, 0, 0, 1, 5, 0, 1, 2, 1, 0, 5, 5, 5, 0, 2, 5, 3, 2, 1, 3, 2, 0, 3, 2, 2, 2, 2, 5, 3, 2, 1, 2, 5, 3]),
    (1, 2, 2, &[1, 1, 3, 3, 0, 0, 1, 1, 0, 1, 1, 3, 1, 3, 0, 1, 3, 3, 3, 3, 1, 0, 3, 0, 3, 3, 3, 0, 0, 0, 1, 0, 1, 1, 0, 3, 3, 1, 3, 3, 1, 0, 1, 0, 0, 1, 3, 0, 1, 1, 1, 0, 3, 3, 1, 0, 3, 1, 3, 3, 0, 1, 3, 3, 0, 0, 3, 0, 0, 1, 1, 3, 3, 3, 0, 1, 3, 1, 0, 1, 0, 3, 0, 0, 0, 0, 3, 1, 3, 3, 0, 3, 0, 1, 0, 1, 3, 0, 1, 3, 1, 0, 1, 1, 1, 3, 1, 1, 1, 1, 0, 0, 3, 1, 3, 1, 0, 1, 3, 1, 0, 3, 1, 0, 1, 0, 3, 3, 1, 0, 3, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 3, 3, 3, 0, 3, 1, 0, 3, 1, 1, 0, 3, 1, 3, 1, 1, 0, 3, 1, 3, 3, 3, 0, 1, 3, 0, 3, 0, 3, 3, 3, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 3, 1, 3, 1, 3, 3, 0, 1, 3, 1, 0, 0, 3, 0, 1, 0, 0]),
    (1, 3, 4, &[5, 5, 1, 3, 5, 1, 3, 5, 2, 2, 3, 0, 3, 1, 2, 2, 5, 1, 0, 1, 1, 1, 1, 0, 1, 0, 3, 1, 5, 0, 0, 1, 5, 5, 1, 5, 0, 1, 1, 1, 3, 1, 2, 2, 0, 3, 3, 5, 1, 2, 3, 2, 2, 1, 2, 0, 0, 3, 3, 5, 2, 3, 1, 3, 0, 2, 0, 3, 3, 0, 5, 5, 3, 5, 0, 2, 3, 1, 5, 5, 1, 1, 0, 0, 5, 2, 0, 0, 3, 3, 0, 2, 5, 1, 0, 2, 2, 2, 0, 0, 2, 2, 0, 5, 0, 3, 2, 5, 1, 0, 2, 0, 1, 0, 5, 1, 3, 3, 2, 3, 0, 5, 3, 2, 0, 2, 2, 5, 5, 2, 2, 3, 3, 1, 5, 3, 2, 3, 1, 3, 2, 3, 3, 5, 5, 1, 1, 3, 5, 5, 3, 5, 0, 2, 0, 0, 0, 5, 3, 1, 2, 2, 0, 1, 3, 1, 1, 2, 5, 0, 5, 2, 1, 0, 3, 3, 1, 5, 5, 0, 2, 5, 3, 3, 3, 5, 1, 5, 5, 0, 2, 5, 5, 2, 3, 2, 5, 1, 0, 0]),
    (2, 3, 0, &[4, 5, 3, 5, 1, 2, 5, 1, 4, 3, 2, 5, 1, 5, 3, 2, 5, 3, 2, 5, 1, 3, 1, 3, 1, 1, 5, 5, 1, 3, 5, 5, 1, 3, 1, 4, 1, 3, 5, 5, 2, 1, 5, 4, 5, 4, 5, 5, 3, 5, 4, 3, 5, 3, 5, 2, 3, 4, 2, 5, 5, 2, 1, 2, 4, 5, 3, 1, 3, 2, 5, 4, 2, 2, 3, 3, 5, 3, 1, 5, 4, 1, 2, 3, 4, 5, 3, 1, 2, 2, 3, 5, 5, 3, 3, 3, 4, 3, 4, 1, 3, 3, 5, 3, 4, 4, 3, 4, 3, 1, 4, 4, 4, 4, 3, 3, 1, 3, 4, 1, 2, 5, 1, 5, 4, 2, 5, 1, 3, 5, 3, 5, 4, 3, 2, 1, 2, 5, 5, 2, 5, 4, 1, 4, 3, 1, 1, 5, 3, 2, 3, 2, 3, 3, 2, 4, 5, 5, 5, 2, 5, 1, 3, 2, 2, 1, 3, 5, 2, 2, 2, 2, 2, 2, 1, 2, 4, 3, 3, 5, 2, 2, 1, 4, 3, 3, 5, 2, 1, 5, 5, 5, 1, 1, 2, 1, 5, 2, 5, 5]),
    (2, 1, 2, &[1, 0, 3, 1, 1, 4, 4, 1, 3, 0, 3, 4, 0, 1, 3, 1, 0, 1, 1, 0, 0, 1, 0, 3, 3, 0, 4, 3, 1, 0, 4, 3, 0, 4, 3, 0, 4, 1, 4, 4, 1, 4, 0, 3, 3, 0, 3, 3, 0, 4, 3, 1, 3, 4, 0, 0, 0, 1, 3, 0, 4, 0, 0, 3, 3, 3, 4, 3, 3, 3, 0, 4, 1, 4, 0, 1, 4, 0, 0, 1, 0, 1, 4, 1, 1, 0, 3, 0, 0, 4, 1, 4, 4, 1, 4, 3, 1, 4, 3, 0, 1, 0, 4, 3, 3, 3, 0, 3, 3, 0, 0, 3, 4, 4, 1, 3, 1, 0, 0, 0, 0, 4, 0, 0, 4, 0, 1, 3, 3, 0, 0, 0, 4, 3, 1, 4, 4, 4, 1, 1, 3, 1, 0, 0, 3, 1, 3, 3, 1, 4, 1, 0, 1, 4, 1, 0, 0, 4, 4, 0, 0, 1, 3, 3, 4, 4, 3, 0, 4, 1, 3, 1, 1, 0, 4, 4, 4, 0, 1, 1, 1, 1, 4, 4, 1, 1, 0, 4, 4, 1, 4, 4, 1, 3, 3, 3, 4, 0, 4, 1]),
    (3, 1, 2, &[0, 1, 4, 3, 1, 0, 0, 3, 1, 0, 0, 1, 4, 0, 0, 0, 0, 0, 3, 4, 0, 0, 1, 1, 3, 3, 4, 4, 0, 1, 4, 0, 1, 3, 0, 0, 3, 1, 3, 0, 4, 1, 0, 3, 1, 0, 1, 4, 4, 4, 1, 4, 1, 1, 3, 0, 4, 0, 0, 3, 4, 0, 1, 0, 1, 1, 1, 3, 4, 0, 3, 4, 1, 4, 0, 3, 3, 1, 1, 1, 0, 4, 3, 1, 3, 1, 4, 3, 4, 1, 3, 0, 0, 0, 4, 4, 1, 1, 3, 3, 4, 0, 1, 1, 4, 4, 1, 4, 1, 0, 1, 1, 0, 0, 3, 0, 4, 3, 0, 0, 1, 1, 4, 0, 1, 4, 3, 0, 3, 0, 0, 0, 0, 0, 4, 1, 3, 0, 1, 0, 0, 3, 0, 4, 3, 4, 0, 1, 4, 0, 4, 1, 1, 1, 1, 0, 0, 1, 4, 1, 3, 0, 3, 4, 1, 3, 3, 1, 3, 3, 0, 1, 0, 0, 1, 3, 1, 1, 1, 1, 3, 0, 3, 4, 0, 1, 3, 1, 1, 1, 3, 4, 1, 0, 4, 1, 3, 4, 3, 1]),
    (3, 1, 2, &[1, 3, 0, 1, 1, 3, 4, 3, 3, 0, 1, 4, 4, 1, 4, 3, 0, 1, 0, 3, 3, 0, 4, 4, 4, 0, 4, 4, 0, 0, 0, 4, 0, 3, 4, 0, 0, 1, 3, 3, 4, 3, 4, 0, 4, 0, 0, 0, 1, 0, 0, 4, 1, 0, 0, 1, 0, 4, 4, 0, 4, 0, 3, 0, 0, 0, 3, 1, 1, 0, 1, 0, 3, 1, 3, 1, 3, 3, 4, 0, 0, 1, 3, 4, 4, 1, 0, 4, 3, 4, 0, 1, 3, 0, 4, 3, 3, 1, 4, 4, 0, 4, 3, 4, 1, 4, 4, 0, 1, 0, 4, 3, 1, 0, 1, 3, 3, 0, 0, 0, 3, 4, 1, 0, 4, 4, 4, 1, 3, 4, 1, 0, 4, 0, 0, 3, 3, 4, 3, 1, 4, 4, 0, 4, 3, 4, 3, 0, 0, 0, 1, 1, 3, 1, 3, 4, 4, 0, 1, 3, 3, 1, 3, 0, 3, 0, 4, 4, 1, 4, 1, 3, 1, 1, 4, 0, 0, 1, 1, 4, 4, 3, 0, 4, 1, 4, 3, 4, 4, 0, 3, 4, 1, 1, 1, 0, 0, 1, 3, 1]),
];

#[test]
fn strong_downstream_with_the_reference_interventions_scores_as_the_reference() {
    use disentangle_metrics::strong_downstream::{StrongDownstreamConfig, strong_downstream_for_size};
    let (factors, _) = arrays();
    // The reference's representation: a formula of the factors, float64 then float32.
    let mut formula = |f: &[usize]| -> Result<Vec<f32>, String> {
        Ok(f.chunks(4)
            .flat_map(|r| {
                let [f0, f1, f2, f3] = [r[0] as f64, r[1] as f64, r[2] as f64, r[3] as f64];
                [f0 + 0.25 * f1, (f1 - 0.5 * f0) + 0.3 * f3, 0.7 * f2 + 0.7 * f3, 0.5 * f3 + (0.1 * f0) * f2].map(|v| v as f32)
            })
            .collect())
    };
    let train: Vec<usize> = factors[..100].iter().flat_map(|r| r.to_vec()).collect();
    let test: Vec<usize> = factors[100..300].iter().flat_map(|r| r.to_vec()).collect();
    let mut next = 0;
    let mut draw = |i: usize, _e: usize, _n: usize| {
        let (target, j, v, values) = STRONG_DRAWS[next];
        next += 1;
        assert_eq!(target, i, "the reference's order: targets outer, experiments inner");
        (j, v, values.to_vec())
    };
    let config = StrongDownstreamConfig { num_train: vec![100], num_test: 200, ..Default::default() };
    let s = strong_downstream_for_size(4, &mut formula, &train, &test, &mut draw, &config, 64, 0).unwrap();
    let mean = |v: &mut dyn Iterator<Item = f64>| {
        let (a, c) = v.fold((0.0, 0.0), |(a, c), x| (a + x, c + 1.0));
        a / c
    };
    let strong_test = mean(&mut s.experiments.iter().map(|e| e.4));
    let test_acc = mean(&mut s.test_accuracy.iter().copied());
    println!("ordinary test {:?} (mean {test_acc}); strong test {strong_test}; experiments {:?}", s.test_accuracy, s.experiments);
    // The reference with its global seed 0: ordinary test 0.875 (per factor, over seeds 0..9:
    // 0.96–0.965, 0.96, 0.69–0.715, 0.875–0.885), strong train 1.0, strong test 0.66375. Its
    // trees' tie-breaking moves these by up to 0.025 per factor.
    assert!((0.955..=0.97).contains(&s.test_accuracy[0]) && (s.test_accuracy[1] - 0.96).abs() <= 0.005, "{:?}", s.test_accuracy);
    assert!((0.68..=0.725).contains(&s.test_accuracy[2]) && (0.865..=0.895).contains(&s.test_accuracy[3]), "{:?}", s.test_accuracy);
    assert!(s.experiments.iter().all(|e| e.3 == 1.0));
    // Measured: ordinary mean 0.875 (equal), strong test 0.66125 vs 0.66375.
    assert!((test_acc - 0.875).abs() <= 0.01, "{test_acc}");
    assert!((strong_test - 0.66375).abs() <= 0.01, "strong test {strong_test} vs 0.66375");
}
