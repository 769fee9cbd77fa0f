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

const LEAF: u32 = u32::MAX;
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
        Node {
            feature: LEAF,
            threshold: 0.0,
            left: 0,
            right: 0,
            value: 0.0,
        }
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
            i = if row[node.feature as usize] as f64 <= node.threshold {
                node.left
            } else {
                node.right
            } as usize;
        }
    }
}

/// A sample index with its value of one feature.
#[derive(Debug, Clone, Copy)]
struct Entry {
    sample: u32,
    value: f32,
}

/// Per feature, the training samples in increasing order of that feature.
struct SortedFeatures {
    num_samples: usize,
    sorted: Vec<Vec<Entry>>,
    /// 0, 1, ..., n − 1 as f64 (sample counts left of each position).
    positions: Vec<f64>,
}

impl SortedFeatures {
    fn new(x: &[f32], n: usize, f: usize) -> Self {
        let sorted = (0..f)
            .into_par_iter()
            .map(|j| {
                let mut entries: Vec<Entry> = (0..n)
                    .map(|i| Entry {
                        sample: i as u32,
                        value: x[i * f + j],
                    })
                    .collect();
                entries.sort_by(|a, b| a.value.total_cmp(&b.value).then(a.sample.cmp(&b.sample)));
                entries
            })
            .collect();
        SortedFeatures {
            num_samples: n,
            sorted,
            positions: (0..n).map(|i| i as f64).collect(),
        }
    }
}

/// Best split found so far for one node.
#[derive(Debug, Clone, Copy)]
struct Split {
    /// Friedman's proxy n_l n_r (ȳ_l − ȳ_r)²; the impurity decrease is proxy / n_node.
    proxy: f64,
    feature: u32,
    threshold: f64,
    /// Samples going left (a prefix of the node's segment in `feature`'s order).
    num_left: usize,
}

/// Scratch buffers of [`scan_feature`], reused across nodes and features.
#[derive(Default)]
struct ScanBuffers {
    left_sum: Vec<f64>,
}

/// Scans one feature of one node (its samples in increasing feature order) for the best
/// threshold and keeps it if strictly better than `best` (so earlier features win ties).
///
/// Two simple passes instead of one loop full of branches: (1) the left sums (prefix
/// sums of the residuals in this order, the only sequential dependency); (2) whether each
/// position is a split point, its proxy and the first position of the maximum,
/// element-wise in independent lanes, so it vectorizes. The proxy is
/// scikit-learn's n_l n_r (ȳ_l − ȳ_r)² = diff² / (n_l n_r), diff = n_r·sum_left −
/// n_l·sum_right; within a feature the first best position wins, as in a sequential scan.
#[inline(always)]
fn scan_feature_generic(
    entries: &[Entry],
    residual: &[f64],
    total: f64,
    positions: &[f64],
    feature: u32,
    best: &mut Split,
    buffers: &mut ScanBuffers,
) {
    let m = entries.len();
    if m < 2 {
        return;
    }
    // Grow only (every position below m is overwritten), so no refilling per node.
    if buffers.left_sum.len() < m {
        buffers.left_sum.resize(m, 0.0);
    }
    // Pass 1: the left sums, the only sequential dependency.
    let left_sum = &mut buffers.left_sum[..m];
    let mut sum = 0.0;
    for (l, e) in left_sum.iter_mut().zip(entries) {
        *l = sum;
        sum += residual[e.sample as usize];
    }

    // Pass 2, element-wise over positions i = 1..m, in independent lanes: whether i is a
    // split point (its value is not within FEATURE_THRESHOLD of the previous one), its
    // proxy (−1 where it is not a split point: never the maximum of a splittable node),
    // and each lane's first maximum. Then the lanes merge: the larger proxy, the smaller
    // position on ties; the tail positions come last, so a strict comparison keeps the
    // first maximum overall.
    let n = m as f64;
    let proxy_at = |left: f64, nl: f64, value: f32, previous: f32| -> f64 {
        let nr = n - nl;
        let diff = nr * left - nl * (total - left);
        let s = if value as f64 > previous as f64 + FEATURE_THRESHOLD {
            1.0
        } else {
            0.0
        };
        s * (diff * diff / (nl * nr)) + (s - 1.0)
    };
    let (left_sum, positions) = (&buffers.left_sum[1..m], &positions[1..m]);
    let (current, previous) = (&entries[1..m], &entries[..m - 1]);
    const LANES: usize = 8;
    let mut lane_value = [f64::NEG_INFINITY; LANES];
    let mut lane_index = [0.0f64; LANES];
    let full = (m - 1) / LANES * LANES;
    for base in (0..full).step_by(LANES) {
        let chunk = base..base + LANES;
        let (ls, ps) = (&left_sum[chunk.clone()], &positions[chunk.clone()]);
        let (cur, prev) = (&current[chunk.clone()], &previous[chunk]);
        for l in 0..LANES {
            let p = proxy_at(ls[l], ps[l], cur[l].value, prev[l].value);
            let better = p > lane_value[l];
            lane_value[l] = if better { p } else { lane_value[l] };
            lane_index[l] = if better { ps[l] } else { lane_index[l] };
        }
    }
    let (mut value, mut index) = (f64::NEG_INFINITY, usize::MAX);
    for l in 0..LANES {
        let i = lane_index[l] as usize;
        if lane_value[l] > value || (lane_value[l] == value && i < index) {
            value = lane_value[l];
            index = i;
        }
    }
    for j in full..m - 1 {
        let p = proxy_at(
            left_sum[j],
            positions[j],
            current[j].value,
            previous[j].value,
        );
        if p > value {
            value = p;
            index = j + 1;
        }
    }
    if value >= 0.0 && value > best.proxy {
        let (below, above) = (entries[index - 1].value as f64, entries[index].value as f64);
        let mut threshold = below / 2.0 + above / 2.0;
        if threshold == above || !threshold.is_finite() {
            threshold = below;
        }
        *best = Split {
            proxy: value,
            feature,
            threshold,
            num_left: index,
        };
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_feature_avx2(
    entries: &[Entry],
    residual: &[f64],
    total: f64,
    positions: &[f64],
    feature: u32,
    best: &mut Split,
    buffers: &mut ScanBuffers,
) {
    scan_feature_generic(entries, residual, total, positions, feature, best, buffers)
}

/// [`scan_feature_generic`], built for AVX2 where the CPU has it (see
/// [`scan_feature_all_outputs`] on why the results are identical).
fn scan_feature(
    entries: &[Entry],
    residual: &[f64],
    total: f64,
    positions: &[f64],
    feature: u32,
    best: &mut Split,
    buffers: &mut ScanBuffers,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe {
            scan_feature_avx2(entries, residual, total, positions, feature, best, buffers)
        };
    }
    scan_feature_generic(entries, residual, total, positions, feature, best, buffers)
}

/// The root scan of one feature for every output at once: per output the (num, den,
/// position) of the best proxy num / den. The loops over outputs are branch-free so
/// they vectorize; see [`scan_feature_all_outputs`] for the AVX2 dispatch.
#[inline(always)]
fn scan_feature_all_outputs_generic(
    entries: &[Entry],
    residual: &[f64],
    sum: &[f64],
) -> Vec<(f64, f64, usize)> {
    let outputs = sum.len();
    let count = entries.len() as f64;
    let mut left = vec![0.0; outputs];
    let mut best_num = vec![f64::NEG_INFINITY; outputs];
    let mut best_den = vec![1.0; outputs];
    // Positions as f64 so that the selects stay in one vector type.
    let mut best_pos = vec![0.0f64; outputs];
    let mut last = f64::INFINITY;
    for (i, e) in entries.iter().enumerate() {
        let v = e.value as f64;
        if v > last + FEATURE_THRESHOLD {
            let nl = i as f64;
            let nr = count - nl;
            let den = nl * nr;
            for ((((l, total), bn), bd), bp) in left
                .iter()
                .zip(sum)
                .zip(best_num.iter_mut())
                .zip(best_den.iter_mut())
                .zip(best_pos.iter_mut())
            {
                let diff = nr * l - nl * (total - l);
                let num = diff * diff;
                let better = num * *bd > *bn * den;
                *bn = if better { num } else { *bn };
                *bd = if better { den } else { *bd };
                *bp = if better { nl } else { *bp };
            }
        }
        let row = &residual[e.sample as usize * outputs..(e.sample as usize + 1) * outputs];
        for (l, g) in left.iter_mut().zip(row) {
            *l += g;
        }
        last = v;
    }
    (0..outputs)
        .map(|c| (best_num[c], best_den[c], best_pos[c] as usize))
        .collect()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_feature_all_outputs_avx2(
    entries: &[Entry],
    residual: &[f64],
    sum: &[f64],
) -> Vec<(f64, f64, usize)> {
    scan_feature_all_outputs_generic(entries, residual, sum)
}

/// Dispatches to an AVX2 build of the same code where the CPU has it (the baseline
/// x86-64 target lacks a vector select, so the generic build stays scalar). Without FMA
/// both builds perform the same IEEE operations in the same order: identical results.
fn scan_feature_all_outputs(
    entries: &[Entry],
    residual: &[f64],
    sum: &[f64],
) -> Vec<(f64, f64, usize)> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { scan_feature_all_outputs_avx2(entries, residual, sum) };
    }
    scan_feature_all_outputs_generic(entries, residual, sum)
}

/// Best root split of every tree of a stage at once (the root holds all samples, so all
/// trees share the sorted lists): one pass per feature updates the running sums of all
/// outputs together, which vectorizes across outputs. `residual` is n × outputs
/// (sample-major). None for a root that stays a leaf. Same rule as [`scan_feature`]:
/// within a feature the first best position, across features the first best in output
/// c's order `orders[c]`.
fn root_splits(data: &SortedFeatures, residual: &[f64], outputs: usize, orders: &[Vec<u32>]) -> Vec<Option<Split>> {
    let n = data.num_samples;
    let (mut sum, mut sum_sq) = (vec![0.0; outputs], vec![0.0; outputs]);
    for row in residual.chunks_exact(outputs) {
        for c in 0..outputs {
            sum[c] += row[c];
            sum_sq[c] += row[c] * row[c];
        }
    }
    let count = n as f64;
    let splittable: Vec<bool> = (0..outputs)
        .map(|c| n >= 2 && sum_sq[c] / count - (sum[c] / count).powi(2) > f64::EPSILON)
        .collect();
    // Per feature and output: (num, den, position) of the best proxy num / den.
    let per_feature: Vec<Vec<(f64, f64, usize)>> = data
        .sorted
        .par_iter()
        .map(|entries| scan_feature_all_outputs(entries, residual, &sum))
        .collect();
    (0..outputs)
        .map(|c| {
            if !splittable[c] {
                return None;
            }
            let mut best: Option<(usize, f64, f64, usize)> = None;
            for &f in &orders[c] {
                let f = f as usize;
                let (num, den, pos) = per_feature[f][c];
                if pos == 0 {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some((_, bn, bd, _)) => num * bd > bn * den,
                };
                if better {
                    best = Some((f, num, den, pos));
                }
            }
            best.map(|(f, num, den, pos)| {
                let entries = &data.sorted[f];
                let (below, above) = (entries[pos - 1].value as f64, entries[pos].value as f64);
                let mut threshold = below / 2.0 + above / 2.0;
                if threshold == above || !threshold.is_finite() {
                    threshold = below;
                }
                Split {
                    proxy: num / den,
                    feature: f as u32,
                    threshold,
                    num_left: pos,
                }
            })
        })
        .collect()
}

/// Stable partition of `source` by `goes_left` into `target` (same length), the first
/// `num_left` entries going left. Branch-free.
fn partition_into(source: &[Entry], target: &mut [Entry], goes_left: &[bool], num_left: usize) {
    let (mut left, mut right) = (0, num_left);
    for &e in source {
        let is_left = goes_left[e.sample as usize];
        target[if is_left { left } else { right }] = e;
        left += is_left as usize;
        right += !is_left as usize;
    }
}

/// Stable partition of `segment` by `goes_left`, in place, using `scratch` (at least as
/// long as the segment). Branch-free: every entry is written to both destinations and
/// only the matching cursor advances.
fn partition_in_place(segment: &mut [Entry], goes_left: &[bool], scratch: &mut [Entry]) {
    let mut write = 0;
    let mut spill = 0;
    for read in 0..segment.len() {
        let e = segment[read];
        let left = goes_left[e.sample as usize] as usize;
        segment[write] = e;
        scratch[spill] = e;
        write += left;
        spill += 1 - left;
    }
    segment[write..].copy_from_slice(&scratch[..spill]);
}

/// Buffers of one tree fit, reused from tree to tree by the same worker.
#[derive(Default)]
struct TreeWorkspace {
    /// Per feature, the samples of every node sorted by that feature (F × n).
    lists: Vec<Entry>,
    goes_left: Vec<bool>,
    scratch: Vec<Entry>,
    buffers: ScanBuffers,
    /// The node of every training sample; after the fit, its leaf.
    node_of: Vec<u32>,
}

/// A regression tree fitted to `residual` and its unnormalized feature importances; the
/// leaf of every training sample is left in `workspace.node_of`.
///
/// Growth is level by level. Every node owns the same segment [start, end) of each
/// feature's sample list, sorted by that feature; after a split each list's segment is
/// stably partitioned into the children's segments, so every scan reads contiguous
/// memory. The root split comes from [`root_splits`]; the root reads the presorted
/// lists, deeper levels a per-tree copy.
#[allow(clippy::too_many_arguments)] // the tree's inputs and the caller's reusable buffers
fn fit_tree(
    data: &SortedFeatures,
    root: Option<Split>,
    residual: &[f64],
    hessian: &[f64],
    leaf_scale: f64,
    max_depth: usize,
    order_rng: &mut ChaCha8Rng,
    workspace: &mut TreeWorkspace,
) -> (Tree, Vec<f64>) {
    let n = data.num_samples;
    let num_features = data.sorted.len();
    let mut nodes = vec![Node::leaf()];
    let mut importance = vec![0.0; num_features];
    let TreeWorkspace {
        lists,
        goes_left,
        scratch,
        buffers,
        node_of,
    } = workspace;
    node_of.clear();
    node_of.resize(n, 0);
    goes_left.resize(n, false);
    scratch.resize(
        n,
        Entry {
            sample: 0,
            value: 0.0,
        },
    );
    // (node, start, end, Σ residual, Σ residual²) of the nodes that may split at this
    // depth; the root's split comes precomputed.
    let mut frontier: Vec<(u32, usize, usize, f64, f64)> = Vec::new();

    for depth in 0..max_depth {
        let at_root = depth == 0;
        let mut splits: Vec<(u32, usize, usize, Split)> = Vec::new();
        if at_root {
            splits.extend(root.map(|split| (0, 0, n, split)));
        }
        for &(node, start, end, sum, sum_sq) in &frontier {
            let count = (end - start) as f64;
            // Nodes with < 2 samples or zero impurity stay leaves.
            if end - start < 2 || sum_sq / count - (sum / count).powi(2) <= f64::EPSILON {
                continue;
            }
            let mut best = Split {
                proxy: f64::NEG_INFINITY,
                feature: 0,
                threshold: 0.0,
                num_left: 0,
            };
            let mut order: Vec<u32> = (0..num_features as u32).collect();
            order.shuffle(order_rng);
            for f in order {
                let f = f as usize;
                let entries = &lists[f * n + start..f * n + end];
                scan_feature(
                    entries,
                    residual,
                    sum,
                    &data.positions,
                    f as u32,
                    &mut best,
                    buffers,
                );
            }
            if best.proxy > f64::NEG_INFINITY {
                splits.push((node, start, end, best));
            }
        }
        if splits.is_empty() {
            break;
        }
        let grow_further = depth + 1 < max_depth;
        if at_root && grow_further {
            lists.resize(
                num_features * n,
                Entry {
                    sample: 0,
                    value: 0.0,
                },
            );
        }
        let mut next_frontier = Vec::new();
        for (node, start, end, split) in splits {
            let left = nodes.len() as u32;
            nodes.push(Node::leaf());
            nodes.push(Node::leaf());
            let parent = &mut nodes[node as usize];
            parent.feature = split.feature;
            parent.threshold = split.threshold;
            parent.left = left;
            parent.right = left + 1;
            importance[split.feature as usize] += split.proxy / (end - start) as f64 / n as f64;
            let chosen = split.feature as usize;
            let chosen_list: &[Entry] = if at_root {
                &data.sorted[chosen][start..end]
            } else {
                &lists[chosen * n + start..chosen * n + end]
            };
            // Sides, and the children's residual sums for their own split search.
            let mut stats = [0.0f64; 4];
            for (i, e) in chosen_list.iter().enumerate() {
                let is_left = i < split.num_left;
                let s = e.sample as usize;
                goes_left[s] = is_left;
                node_of[s] = if is_left { left } else { left + 1 };
                let side = if is_left { 0 } else { 2 };
                stats[side] += residual[s];
                stats[side + 1] += residual[s] * residual[s];
            }
            if grow_further {
                for f in 0..num_features {
                    let range = f * n + start..f * n + end;
                    if at_root {
                        // Out of place, from the shared presorted lists into this tree's.
                        partition_into(
                            &data.sorted[f][start..end],
                            &mut lists[range],
                            goes_left,
                            split.num_left,
                        );
                    } else if f != chosen {
                        partition_in_place(&mut lists[range], goes_left, scratch);
                    }
                }
                let middle = start + split.num_left;
                next_frontier.push((left, start, middle, stats[0], stats[1]));
                next_frontier.push((left + 1, middle, end, stats[2], stats[3]));
            }
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
            node.value = if denominator[i].abs() < 1e-150 {
                0.0
            } else {
                leaf_scale * numerator[i] / denominator[i]
            };
        }
    }
    (Tree { nodes }, importance)
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

#[cfg(test)]
mod tests {
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
}
