//! Boosted regression trees with squared loss (DCI-ES's probes).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::tree::{SortedFeatures, Tree, TreeWorkspace, fit_tree, root_splits};
use super::{GbtConfig, check_features};
use crate::error::{MetricsError, Result, invalid};

/// A fitted gradient-boosted tree regressor with squared loss (scikit-learn's
/// `GradientBoostingRegressor(loss="squared_error")`): the initial prediction is the training
/// mean; each stage fits a tree (Friedman's MSE split criterion, as the classifier's) to the
/// residuals y − F and adds its leaf means times the learning rate. The same trees as the
/// classifier, with hessians 1: a leaf's Newton step Σr / Σ1 is the mean residual.
#[derive(Debug, Clone)]
pub struct GradientBoostedRegressor {
    num_features: usize,
    init: f64,
    trees: Vec<Tree>,
    learning_rate: f64,
}

impl GradientBoostedRegressor {
    /// Fits on `x` (n×F row-major) and finite targets `y`.
    pub fn fit(x: &[f32], num_features: usize, y: &[f64], config: &GbtConfig) -> Result<Self> {
        let n = y.len();
        check_features(x, n, num_features)?;
        if config.max_depth == 0 || config.max_depth > 30 {
            return Err(invalid("gbt.max_depth", format!("{} (need 1..=30)", config.max_depth)));
        }
        if !(config.learning_rate.is_finite() && config.learning_rate > 0.0) {
            return Err(invalid("gbt.learning_rate", format!("{} (need > 0)", config.learning_rate)));
        }
        if let Some(row) = y.iter().position(|v| !v.is_finite()) {
            return Err(MetricsError::NonFinite { what: "regression targets", row, column: 0, value: y[row] });
        }
        let init = y.iter().sum::<f64>() / n as f64;
        let mut model = GradientBoostedRegressor { num_features, init, trees: Vec::with_capacity(config.num_stages), learning_rate: config.learning_rate };
        let data = SortedFeatures::new(x, n, num_features);
        let mut raw = vec![init; n];
        let mut residual = vec![0.0; n];
        let hessian = vec![1.0; n];
        let mut workspace = TreeWorkspace::default();
        for stage in 0..config.num_stages {
            crate::interrupt::check()?;
            for ((r, &t), &f) in residual.iter_mut().zip(y).zip(&raw) {
                *r = t - f;
            }
            // The classifier's seeding with one output: stream = stage.
            let mut order_rng = ChaCha8Rng::seed_from_u64(config.seed);
            order_rng.set_stream(stage as u64);
            let mut order: Vec<u32> = (0..num_features as u32).collect();
            order.shuffle(&mut order_rng);
            let root = root_splits(&data, &residual, 1, &[order]).pop().flatten();
            let (tree, _) = fit_tree(&data, root, &residual, &hessian, 1.0, config.max_depth, &mut order_rng, &mut workspace);
            for (f, &leaf) in raw.iter_mut().zip(&workspace.node_of) {
                *f += config.learning_rate * tree.nodes[leaf as usize].value;
            }
            model.trees.push(tree);
        }
        Ok(model)
    }

    /// Predictions for new rows (n×F row-major).
    pub fn predict(&self, x: &[f32]) -> Result<Vec<f64>> {
        let f = self.num_features;
        check_features(x, x.len() / f.max(1), f)?;
        Ok(x.par_chunks_exact(f)
            .map(|row| self.trees.iter().fold(self.init, |a, t| a + self.learning_rate * t.predict(row)))
            .collect())
    }
}
