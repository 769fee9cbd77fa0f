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
//!   unless it is at depth 3, has < 2 samples or zero impurity. Each node tries the
//!   features in its own random order (a ChaCha8 stream per tree, from `seed`, the stage
//!   and the output) and a later feature must be strictly better, as scikit-learn's best
//!   splitter does: two features that split a node the same way (common in small nodes)
//!   win equally often, so the importances, hence DCI, do not depend on the order of the
//!   code columns.
//! - Leaf values: one Newton step, Σ(y − p) / Σ p(1 − p), times (K − 1)/K for K ≥ 3
//!   classes; 0 where the denominator vanishes.
//! - Feature importances: per tree, the impurity decrease of each split (n_node·imp −
//!   n_left·imp_left − n_right·imp_right) divided by the number of samples, summed over
//!   all trees of all stages and normalized to sum 1.
//!
//! Efficiency: features are sorted once per fit; each tree is grown level by level, and
//! each level scans every feature's sorted order once for all nodes of that level, so a
//! tree costs O(depth · F · N). The trees of one stage are fitted in parallel.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Result, invalid};
use crate::labels::DenseLabels;

mod regressor;
mod tree;
pub use regressor::GradientBoostedRegressor;
use tree::{SortedFeatures, Tree, TreeWorkspace, fit_tree, root_splits};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbtConfig {
    pub num_stages: usize,
    pub max_depth: usize,
    pub learning_rate: f64,
    /// Seed of the order in which each node tries the features (see the module notes).
    #[serde(default)]
    pub seed: u64,
}

impl Default for GbtConfig {
    fn default() -> Self {
        GbtConfig {
            num_stages: 100,
            max_depth: 3,
            learning_rate: 0.1,
            seed: 0,
        }
    }
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
        return Err(MetricsError::Empty {
            what: "classifier features",
        });
    }
    if x.len() != n * f {
        return Err(MetricsError::Shape {
            what: "classifier features (n×F)",
            got: x.len(),
            expected: n * f,
        });
    }
    if let Some(pos) = x.iter().position(|v| !v.is_finite()) {
        return Err(MetricsError::NonFinite {
            what: "classifier features",
            row: pos / f,
            column: pos % f,
            value: x[pos] as f64,
        });
    }
    Ok(())
}

fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        t.exp() / (1.0 + t.exp())
    }
}

impl GradientBoostedTrees {
    /// Fits on `x` (n×F row-major) with class labels `y` (any integers).
    pub fn fit(x: &[f32], num_features: usize, y: &[usize], config: &GbtConfig) -> Result<Self> {
        let n = y.len();
        check_features(x, n, num_features)?;
        if config.max_depth == 0 || config.max_depth > 30 {
            return Err(invalid(
                "gbt.max_depth",
                format!("{} (need 1..=30)", config.max_depth),
            ));
        }
        if !(config.learning_rate.is_finite() && config.learning_rate > 0.0) {
            return Err(invalid(
                "gbt.learning_rate",
                format!("{} (need > 0)", config.learning_rate),
            ));
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
        let m = num_outputs;
        // Raw scores and probabilities are sample-major (n × outputs); the residuals are
        // kept both sample-major (for the joint root scan) and per output (for the trees).
        let mut raw: Vec<f64> = (0..n).flat_map(|_| init.iter().copied()).collect();
        let mut probability = vec![0.0; n * m];
        let mut residual_rows = vec![0.0; n * m];
        let mut residual_columns = vec![0.0; n * m];
        let mut hessian_columns = vec![0.0; n * m];
        let leaf_scale = if m == 1 {
            1.0
        } else {
            (k as f64 - 1.0) / k as f64
        };
        let mut importance = vec![0.0; num_features];
        for stage in 0..config.num_stages {
            crate::interrupt::check()?;
            if m == 1 {
                for (p, r) in probability.iter_mut().zip(&raw) {
                    *p = sigmoid(*r);
                }
            } else {
                for (p, r) in probability.chunks_exact_mut(m).zip(raw.chunks_exact(m)) {
                    let max = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let mut total = 0.0;
                    for (pi, ri) in p.iter_mut().zip(r) {
                        *pi = crate::gaussian::exp_nonpositive(ri - max);
                        total += *pi;
                    }
                    for pi in p.iter_mut() {
                        *pi /= total;
                    }
                }
            }
            // Residuals y_k − p_k (class 1 for the binomial case) and hessians p(1 − p).
            for s in 0..n {
                for out in 0..m {
                    let target = if m == 1 { 1 } else { out as u32 };
                    let p = probability[s * m + out];
                    let r = if labels.labels[s] == target { 1.0 } else { 0.0 } - p;
                    residual_rows[s * m + out] = r;
                    residual_columns[out * n + s] = r;
                    hessian_columns[out * n + s] = p * (1.0 - p);
                }
            }
            // One stream per tree (seed, stage, output), so the draws do not depend on
            // which thread fits which tree; the root's order is its first draw.
            let mut order_rngs: Vec<ChaCha8Rng> = (0..m)
                .map(|out| {
                    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
                    rng.set_stream((stage * m + out) as u64);
                    rng
                })
                .collect();
            let root_orders: Vec<Vec<u32>> = order_rngs
                .iter_mut()
                .map(|rng| {
                    let mut order: Vec<u32> = (0..num_features as u32).collect();
                    order.shuffle(rng);
                    order
                })
                .collect();
            let roots = root_splits(&data, &residual_rows, m, &root_orders);
            let fitted: Vec<(Tree, Vec<u32>, Vec<f64>)> = roots
                .into_par_iter()
                .zip(order_rngs.into_par_iter())
                .enumerate()
                .map_init(TreeWorkspace::default, |workspace, (out, (root, mut order_rng))| {
                    let column = out * n..(out + 1) * n;
                    let (tree, tree_importance) = fit_tree(
                        &data,
                        root,
                        &residual_columns[column.clone()],
                        &hessian_columns[column],
                        leaf_scale,
                        config.max_depth,
                        &mut order_rng,
                        workspace,
                    );
                    (
                        tree,
                        std::mem::take(&mut workspace.node_of),
                        tree_importance,
                    )
                })
                .collect();
            for (out, (tree, leaf_of, tree_importance)) in fitted.into_iter().enumerate() {
                for s in 0..n {
                    raw[s * m + out] +=
                        config.learning_rate * tree.nodes[leaf_of[s] as usize].value;
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
        let mut out: Vec<f64> = x
            .chunks_exact(f)
            .flat_map(|_| self.init.iter().copied())
            .collect();
        if m == 0 {
            return Ok(out);
        }
        // Rows are independent: score them in parallel, each row's sum in stage order.
        out.par_chunks_mut(m)
            .zip(x.par_chunks_exact(f))
            .for_each(|(scores, row)| {
                for (t, tree) in self.trees.iter().enumerate() {
                    scores[t % m] += self.learning_rate * tree.predict(row);
                }
            });
        Ok(out)
    }

    pub fn predict(&self, x: &[f32]) -> Result<Vec<usize>> {
        if self.num_outputs == 0 {
            check_features(x, x.len() / self.num_features, self.num_features)?;
            return Ok(vec![self.classes[0]; x.len() / self.num_features]);
        }
        let raw = self.decision_function(x)?;
        Ok(raw
            .chunks_exact(self.num_outputs)
            .map(|r| self.class_of_raw(r))
            .collect())
    }

    /// Accuracy on new rows.
    pub fn accuracy(&self, x: &[f32], y: &[usize]) -> Result<f64> {
        let pred = self.predict(x)?;
        if pred.len() != y.len() || y.is_empty() {
            return Err(MetricsError::Shape {
                what: "labels",
                got: y.len(),
                expected: pred.len(),
            });
        }
        Ok(pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64)
    }

    /// Accuracy on the training rows, from the scores kept during fitting.
    pub fn train_accuracy(&self, y: &[usize]) -> Result<f64> {
        if self.num_outputs == 0 {
            return Ok(
                y.iter().filter(|&&c| c == self.classes[0]).count() as f64 / y.len().max(1) as f64
            );
        }
        if self.train_raw.len() != y.len() * self.num_outputs || y.is_empty() {
            return Err(MetricsError::Shape {
                what: "training labels",
                got: y.len(),
                expected: self.train_raw.len() / self.num_outputs,
            });
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
mod tests;
