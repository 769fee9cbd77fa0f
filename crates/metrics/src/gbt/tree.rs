//! The regression trees the boosting fits, grown level by level over presorted features
//! (see the parent module's notes for the algorithm and what it matches in scikit-learn).

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

const LEAF: u32 = u32::MAX;
/// Feature values closer than this are not split apart (scikit-learn's FEATURE_THRESHOLD).
const FEATURE_THRESHOLD: f64 = 1e-7;

#[derive(Debug, Clone, Copy)]
pub(super) struct Node {
    /// Split feature, or LEAF.
    pub(super) feature: u32,
    pub(super) threshold: f64,
    pub(super) left: u32,
    pub(super) right: u32,
    pub(super) value: f64,
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
pub(super) struct Tree {
    pub(super) nodes: Vec<Node>,
}

impl Tree {
    pub(super) fn predict(&self, row: &[f32]) -> f64 {
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
pub(super) struct SortedFeatures {
    num_samples: usize,
    sorted: Vec<Vec<Entry>>,
    /// 0, 1, ..., n − 1 as f64 (sample counts left of each position).
    positions: Vec<f64>,
}

impl SortedFeatures {
    pub(super) fn new(x: &[f32], n: usize, f: usize) -> Self {
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
pub(super) struct Split {
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
pub(super) fn root_splits(data: &SortedFeatures, residual: &[f64], outputs: usize, orders: &[Vec<u32>]) -> Vec<Option<Split>> {
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
pub(super) struct TreeWorkspace {
    /// Per feature, the samples of every node sorted by that feature (F × n).
    lists: Vec<Entry>,
    goes_left: Vec<bool>,
    scratch: Vec<Entry>,
    buffers: ScanBuffers,
    /// The node of every training sample; after the fit, its leaf.
    pub(super) node_of: Vec<u32>,
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
pub(super) fn fit_tree(
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
