//! Gradient-boosted decision trees for classification, written for this crate, with the
//! algorithm of scikit-learn's `GradientBoostingClassifier()` defaults (the DCI classifier
//! of the reference study): 100 stages, depth-3 regression trees, learning rate 0.1,
//! no subsampling.
//!
//! - Loss: multinomial deviance for 3+ classes (one tree per class and stage, all fitted
//!   to the residuals y_k − p_k of the probabilities at the start of the stage); binomial
//!   deviance for 2 classes (one tree per stage). Initial raw scores: log class priors
//!   (log-odds for 2 classes).
//! - Trees: exact best-first splits on the squared error of the residuals (the
//!   Friedman-MSE criterion ranks splits identically with unit sample weights); candidate
//!   thresholds are midpoints between consecutive distinct feature values (values closer
//!   than 1e-7 are not split apart), samples with x ≤ threshold go left; a node is split
//!   unless it is at depth 3, has < 2 samples or zero impurity. Features are tried in
//!   index order and a later feature must be strictly better (scikit-learn draws the order
//!   at random; exact ties are rare with continuous codes).
//! - Leaf values: one Newton step, Σ(y − p) / Σ p(1 − p), times (K − 1)/K for K ≥ 3
//!   classes; 0 where the denominator vanishes.
//! - Feature importances: per tree, the impurity decrease of each split (n_node·imp −
//!   n_left·imp_left − n_right·imp_right) divided by the number of samples, summed over
//!   all trees of all stages and normalized to sum 1.
//!
//! Efficiency: features are sorted once per fit; each tree is grown level by level, and
//! each level scans every feature's sorted order once for all nodes of that level, so a
//! tree costs O(depth · F · N). The trees of one stage are fitted in parallel.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Result, invalid};
use crate::labels::DenseLabels;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbtConfig {
    pub num_stages: usize,
    pub max_depth: usize,
    pub learning_rate: f64,
}

impl Default for GbtConfig {
    fn default() -> Self {
        GbtConfig {
            num_stages: 100,
            max_depth: 3,
            learning_rate: 0.1,
        }
    }
}

const LEAF: u32 = u32::MAX;
const INACTIVE: u32 = u32::MAX;
/// Feature values closer than this are not split apart (scikit-learn's FEATURE_THRESHOLD).
const FEATURE_THRESHOLD: f64 = 1e-7;

#[derive(Debug, Clone, Copy)]
struct Node {
    /// Split feature, or LEAF.
    feature: u32,
    threshold: f64,
    left: u32,
    right: u32,
    value: f64,
}

impl Node {
    fn leaf() -> Self {
        Node { feature: LEAF, threshold: 0.0, left: 0, right: 0, value: 0.0 }
    }
}

#[derive(Debug, Clone)]
struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    fn predict(&self, row: &[f32]) -> f64 {
        let mut i = 0;
        loop {
            let node = &self.nodes[i];
            if node.feature == LEAF {
                return node.value;
            }
            i = if row[node.feature as usize] as f64 <= node.threshold { node.left } else { node.right } as usize;
        }
    }
}

/// Columns of the training features and, per feature, the sample order by value.
struct SortedFeatures {
    num_samples: usize,
    columns: Vec<Vec<f32>>,
    order: Vec<Vec<u32>>,
    sorted_values: Vec<Vec<f32>>,
}

impl SortedFeatures {
    fn new(x: &[f32], n: usize, f: usize) -> Self {
        let columns: Vec<Vec<f32>> = (0..f).map(|j| x.iter().skip(j).step_by(f).copied().collect()).collect();
        let (order, sorted_values) = columns
            .par_iter()
            .map(|col| {
                let mut order: Vec<u32> = (0..n as u32).collect();
                order.sort_by(|&a, &b| col[a as usize].total_cmp(&col[b as usize]).then(a.cmp(&b)));
                let values = order.iter().map(|&i| col[i as usize]).collect();
                (order, values)
            })
            .unzip();
        SortedFeatures { num_samples: n, columns, order, sorted_values }
    }
}

/// A regression tree fitted to `residual`, its leaf of every training sample, and its
/// unnormalized feature importances.
fn fit_tree(
    data: &SortedFeatures,
    residual: &[f64],
    hessian: &[f64],
    leaf_scale: f64,
    max_depth: usize,
) -> (Tree, Vec<u32>, Vec<f64>) {
    let n = data.num_samples;
    let num_features = data.columns.len();
    let mut nodes = vec![Node::leaf()];
    let mut node_of = vec![0u32; n];
    let mut importance = vec![0.0; num_features];
    let mut frontier: Vec<u32> = vec![0];
    let mut slot_of_sample = vec![INACTIVE; n];

    for depth in 0..max_depth {
        if frontier.is_empty() {
            break;
        }
        let slots = frontier.len();
        let mut slot_of_node = vec![INACTIVE; nodes.len()];
        for (slot, &node) in frontier.iter().enumerate() {
            slot_of_node[node as usize] = slot as u32;
        }
        let (mut count, mut sum, mut sum_sq) = (vec![0usize; slots], vec![0.0; slots], vec![0.0; slots]);
        for s in 0..n {
            let slot = slot_of_node[node_of[s] as usize];
            slot_of_sample[s] = slot;
            if slot != INACTIVE {
                let g = residual[s];
                count[slot as usize] += 1;
                sum[slot as usize] += g;
                sum_sq[slot as usize] += g * g;
            }
        }
        // Nodes with < 2 samples or zero impurity stay leaves.
        let splittable: Vec<bool> = (0..slots)
            .map(|i| {
                let c = count[i] as f64;
                count[i] >= 2 && sum_sq[i] / c - (sum[i] / c).powi(2) > f64::EPSILON
            })
            .collect();
        for s in 0..n {
            let slot = slot_of_sample[s];
            if slot != INACTIVE && !splittable[slot as usize] {
                slot_of_sample[s] = INACTIVE;
            }
        }

        // Best split per slot: (proxy improvement, feature, threshold).
        let mut best: Vec<(f64, u32, f64)> = vec![(f64::NEG_INFINITY, 0, 0.0); slots];
        let mut left_count = vec![0usize; slots];
        let mut left_sum = vec![0.0f64; slots];
        let mut last = vec![0.0f64; slots];
        for f in 0..num_features {
            left_count.fill(0);
            left_sum.fill(0.0);
            let order = &data.order[f];
            let values = &data.sorted_values[f];
            for i in 0..n {
                let s = order[i] as usize;
                let slot = slot_of_sample[s];
                if slot == INACTIVE {
                    continue;
                }
                let slot = slot as usize;
                let v = values[i] as f64;
                let nl = left_count[slot];
                if nl > 0 && v > last[slot] + FEATURE_THRESHOLD {
                    // Friedman's proxy n_l n_r (ȳ_l − ȳ_r)²; the impurity decrease is it / n.
                    let nl = nl as f64;
                    let nr = count[slot] as f64 - nl;
                    let sl = left_sum[slot];
                    let diff = (sum[slot] - sl) * nl - sl * nr;
                    let proxy = diff * diff / (nl * nr);
                    if proxy > best[slot].0 {
                        let mut threshold = last[slot] / 2.0 + v / 2.0;
                        if threshold == v || !threshold.is_finite() {
                            threshold = last[slot];
                        }
                        best[slot] = (proxy, f as u32, threshold);
                    }
                }
                left_count[slot] += 1;
                left_sum[slot] += residual[s];
                last[slot] = v;
            }
        }

        let mut next_frontier = Vec::new();
        let mut children = vec![(INACTIVE, INACTIVE); slots];
        for slot in 0..slots {
            if !splittable[slot] || best[slot].0 == f64::NEG_INFINITY {
                continue;
            }
            let (proxy, feature, threshold) = best[slot];
            let left = nodes.len() as u32;
            nodes.push(Node::leaf());
            nodes.push(Node::leaf());
            let node = &mut nodes[frontier[slot] as usize];
            node.feature = feature;
            node.threshold = threshold;
            node.left = left;
            node.right = left + 1;
            children[slot] = (left, left + 1);
            importance[feature as usize] += proxy / count[slot] as f64 / n as f64;
            if depth + 1 < max_depth {
                next_frontier.extend([left, left + 1]);
            }
        }
        for s in 0..n {
            let slot = slot_of_sample[s];
            if slot == INACTIVE || children[slot as usize].0 == INACTIVE {
                continue;
            }
            let (feature, threshold) = (best[slot as usize].1, best[slot as usize].2);
            let (left, right) = children[slot as usize];
            node_of[s] = if data.columns[feature as usize][s] as f64 <= threshold { left } else { right };
        }
        frontier = next_frontier;
    }

    // Newton leaf values.
    let mut numerator = vec![0.0; nodes.len()];
    let mut denominator = vec![0.0; nodes.len()];
    for s in 0..n {
        numerator[node_of[s] as usize] += residual[s];
        denominator[node_of[s] as usize] += hessian[s];
    }
    for (i, node) in nodes.iter_mut().enumerate() {
        if node.feature == LEAF {
            node.value = if denominator[i].abs() < 1e-150 { 0.0 } else { leaf_scale * numerator[i] / denominator[i] };
        }
    }
    (Tree { nodes }, node_of, importance)
}

/// A fitted gradient-boosted tree classifier.
#[derive(Debug, Clone)]
pub struct GradientBoostedTrees {
    classes: Vec<usize>,
    num_features: usize,
    /// 0 (constant), 1 (binomial) or K (multinomial) raw scores per sample.
    num_outputs: usize,
    init: Vec<f64>,
    /// Stage-major: tree of stage s and output k at s·num_outputs + k.
    trees: Vec<Tree>,
    learning_rate: f64,
    feature_importances: Vec<f64>,
    train_raw: Vec<f64>,
}

fn check_features(x: &[f32], n: usize, f: usize) -> Result<()> {
    if n == 0 || f == 0 {
        return Err(MetricsError::Empty { what: "classifier features" });
    }
    if x.len() != n * f {
        return Err(MetricsError::Shape { what: "classifier features (n×F)", got: x.len(), expected: n * f });
    }
    if let Some(pos) = x.iter().position(|v| !v.is_finite()) {
        return Err(MetricsError::NonFinite { what: "classifier features", row: pos / f, column: pos % f, value: x[pos] as f64 });
    }
    Ok(())
}

fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 { 1.0 / (1.0 + (-t).exp()) } else { t.exp() / (1.0 + t.exp()) }
}

impl GradientBoostedTrees {
    /// Fits on `x` (n×F row-major) with class labels `y` (any integers).
    pub fn fit(x: &[f32], num_features: usize, y: &[usize], config: &GbtConfig) -> Result<Self> {
        let n = y.len();
        check_features(x, n, num_features)?;
        if config.max_depth == 0 || config.max_depth > 30 {
            return Err(invalid("gbt.max_depth", format!("{} (need 1..=30)", config.max_depth)));
        }
        if !(config.learning_rate > 0.0) || !config.learning_rate.is_finite() {
            return Err(invalid("gbt.learning_rate", format!("{} (need > 0)", config.learning_rate)));
        }
        let labels = DenseLabels::new(y);
        let k = labels.num_classes();
        let mut prior = vec![0.0; k];
        for &l in &labels.labels {
            prior[l as usize] += 1.0 / n as f64;
        }
        let num_outputs = match k {
            1 => 0,
            2 => 1,
            _ => k,
        };
        let init: Vec<f64> = match k {
            1 => vec![],
            2 => vec![(prior[1] / prior[0]).ln()],
            _ => prior.iter().map(|p| p.ln()).collect(),
        };
        let mut model = GradientBoostedTrees {
            classes: labels.classes.clone(),
            num_features,
            num_outputs,
            init: init.clone(),
            trees: Vec::with_capacity(config.num_stages * num_outputs),
            learning_rate: config.learning_rate,
            feature_importances: vec![0.0; num_features],
            train_raw: Vec::new(),
        };
        if num_outputs == 0 {
            return Ok(model);
        }
        let data = SortedFeatures::new(x, n, num_features);
        let mut raw: Vec<f64> = (0..n).flat_map(|_| init.iter().copied()).collect();
        let mut prob = vec![0.0; n * num_outputs];
        let leaf_scale = if num_outputs == 1 { 1.0 } else { (k as f64 - 1.0) / k as f64 };
        let mut importance = vec![0.0; num_features];
        for _stage in 0..config.num_stages {
            if num_outputs == 1 {
                for (p, r) in prob.iter_mut().zip(&raw) {
                    *p = sigmoid(*r);
                }
            } else {
                for (p, r) in prob.chunks_exact_mut(k).zip(raw.chunks_exact(k)) {
                    let m = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let mut s = 0.0;
                    for (pi, ri) in p.iter_mut().zip(r) {
                        *pi = (ri - m).exp();
                        s += *pi;
                    }
                    for pi in p.iter_mut() {
                        *pi /= s;
                    }
                }
            }
            let fitted: Vec<(Tree, Vec<u32>, Vec<f64>)> = (0..num_outputs)
                .into_par_iter()
                .map(|out| {
                    // Output `out` models dense class `out` (class 1 for the binomial case).
                    let target = if num_outputs == 1 { 1 } else { out as u32 };
                    let mut residual = vec![0.0; n];
                    let mut hessian = vec![0.0; n];
                    for s in 0..n {
                        let p = prob[s * num_outputs + out];
                        residual[s] = if labels.labels[s] == target { 1.0 } else { 0.0 } - p;
                        hessian[s] = p * (1.0 - p);
                    }
                    fit_tree(&data, &residual, &hessian, leaf_scale, config.max_depth)
                })
                .collect();
            for (out, (tree, leaf_of, tree_importance)) in fitted.into_iter().enumerate() {
                for s in 0..n {
                    raw[s * num_outputs + out] += config.learning_rate * tree.nodes[leaf_of[s] as usize].value;
                }
                for (a, b) in importance.iter_mut().zip(&tree_importance) {
                    *a += b;
                }
                model.trees.push(tree);
            }
        }
        let total: f64 = importance.iter().sum();
        if total > 0.0 {
            model.feature_importances = importance.iter().map(|v| v / total).collect();
        }
        model.train_raw = raw;
        Ok(model)
    }

    pub fn classes(&self) -> &[usize] {
        &self.classes
    }
    /// Impurity-based importances, non-negative and summing to 1 (all 0 when no tree
    /// split, e.g. a single class).
    pub fn feature_importances(&self) -> &[f64] {
        &self.feature_importances
    }

    fn class_of_raw(&self, raw: &[f64]) -> usize {
        match self.num_outputs {
            0 => self.classes[0],
            1 => self.classes[usize::from(raw[0] > 0.0)],
            _ => self.classes[crate::labels::argmax(raw)],
        }
    }

    /// Raw scores (n × outputs) of new rows (n×F row-major).
    pub fn decision_function(&self, x: &[f32]) -> Result<Vec<f64>> {
        let f = self.num_features;
        check_features(x, x.len() / f.max(1), f)?;
        let m = self.num_outputs;
        let mut out = Vec::with_capacity(x.len() / f * m);
        for row in x.chunks_exact(f) {
            let start = out.len();
            out.extend(self.init.iter().copied());
            for (t, tree) in self.trees.iter().enumerate() {
                out[start + t % m] += self.learning_rate * tree.predict(row);
            }
        }
        Ok(out)
    }

    pub fn predict(&self, x: &[f32]) -> Result<Vec<usize>> {
        if self.num_outputs == 0 {
            check_features(x, x.len() / self.num_features, self.num_features)?;
            return Ok(vec![self.classes[0]; x.len() / self.num_features]);
        }
        let raw = self.decision_function(x)?;
        Ok(raw.chunks_exact(self.num_outputs).map(|r| self.class_of_raw(r)).collect())
    }

    /// Accuracy on new rows.
    pub fn accuracy(&self, x: &[f32], y: &[usize]) -> Result<f64> {
        let pred = self.predict(x)?;
        if pred.len() != y.len() || y.is_empty() {
            return Err(MetricsError::Shape { what: "labels", got: y.len(), expected: pred.len() });
        }
        Ok(pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64)
    }

    /// Accuracy on the training rows, from the scores kept during fitting.
    pub fn train_accuracy(&self, y: &[usize]) -> Result<f64> {
        if self.num_outputs == 0 {
            return Ok(y.iter().filter(|&&c| c == self.classes[0]).count() as f64 / y.len().max(1) as f64);
        }
        if self.train_raw.len() != y.len() * self.num_outputs || y.is_empty() {
            return Err(MetricsError::Shape { what: "training labels", got: y.len(), expected: self.train_raw.len() / self.num_outputs });
        }
        let correct = self
            .train_raw
            .chunks_exact(self.num_outputs)
            .zip(y)
            .filter(|(r, c)| self.class_of_raw(r) == **c)
            .count();
        Ok(correct as f64 / y.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn one_stage_stump_matches_hand_computation() {
        // Binary, 4 points, x = [0, 1, 2, 3], y = [0, 0, 1, 1], one stage, depth 1,
        // learning rate 1. Prior 1/2 → raw 0, p = 1/2, residuals ∓1/2, hessians 1/4.
        // Best split at 1.5; each leaf: Σr / Σh = (±1) / (1/2) = ±2.
        let x = [0.0f32, 1.0, 2.0, 3.0];
        let y = [0usize, 0, 1, 1];
        let config = GbtConfig { num_stages: 1, max_depth: 1, learning_rate: 1.0 };
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
        assert!(imp.iter().all(|&v| v >= 0.0));
    }

    #[test]
    fn single_class_and_bad_input() {
        let m = GradientBoostedTrees::fit(&[1.0, 2.0], 1, &[3, 3], &GbtConfig::default()).unwrap();
        assert_eq!(m.predict(&[0.0]).unwrap(), vec![3]);
        assert_eq!(m.feature_importances(), &[0.0]);
        assert!(GradientBoostedTrees::fit(&[1.0, f32::NAN], 1, &[0, 1], &GbtConfig::default()).is_err());
        assert!(GradientBoostedTrees::fit(&[1.0], 1, &[0, 1], &GbtConfig::default()).is_err());
    }
}
