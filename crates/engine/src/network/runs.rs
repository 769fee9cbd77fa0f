//! Carrying samples through runs of conv layers (each thread its share of the batch, a few
//! samples at a time through every layer of the run), and whole bodies of stages forward and
//! backward.

use rayon::prelude::*;

use super::*;
use crate::conv::{Scratch, SendPtr, per_task};
use crate::simd::wide;

/// Most conv stages one run of [`conv_run_forward`] / [`conv_run_backward`] carries.
const MAX_RUN: usize = 8;

/// The conv layer of a stage known to be one.
fn conv_of(stage: &Stage) -> (ConvLayer, TensorId, TensorId) {
    match *stage {
        Stage::Conv { layer, w, b } => (layer, w, b),
        Stage::Dense { .. } => unreachable!("a conv run holds conv stages only"),
    }
}

/// Whether a stage is a conv that runs on its own, a group of samples at once
/// ([`ConvLayer::grouped`]), rather than sample by sample inside a run.
fn runs_alone(stage: &Stage) -> bool {
    matches!(stage, Stage::Conv { layer, .. } if layer.grouped())
}

/// Whether a stage is a conv that joins its neighbours in a run.
fn joins_run(stage: &Stage) -> bool {
    matches!(stage, Stage::Conv { .. }) && !runs_alone(stage)
}

/// The number of conv stages from the first on: a run is every conv up to the next dense
/// stage (at most [`MAX_RUN`], which the models' plans stay below), or one conv that
/// [`runs_alone`].
fn conv_run_len(stages: &[Stage]) -> usize {
    match stages.first() {
        Some(s) if runs_alone(s) => 1,
        _ => stages.iter().take_while(|s| joins_run(s)).count(),
    }
}

/// [`conv_run_len`] from the last stage back: the run that ends there.
fn conv_run_len_back(stages: &[Stage]) -> usize {
    match stages.last() {
        Some(s) if runs_alone(s) => 1,
        _ => stages.iter().rev().take_while(|s| joins_run(s)).count(),
    }
}

/// Prefix sums of `f` over a run's layers: where each layer's share of a buffer starts.
fn offsets(stages: &[Stage], f: impl Fn(&ConvLayer) -> usize) -> [usize; MAX_RUN + 1] {
    let mut at = [0; MAX_RUN + 1];
    for (l, s) in stages.iter().enumerate() {
        at[l + 1] = at[l] + f(&conv_of(s).0);
    }
    at
}

/// Runs consecutive conv stages forward, carrying each thread's samples through all of them
/// `group` samples at a time (see [`Workspace::run_group`]): a layer then reads its input
/// right after the layer below wrote it, from cache, instead of a whole batch's activations
/// (8 MB for the first conv's output at batch 64) one layer later. Same arithmetic, sample by
/// sample, as the layer-by-layer passes, so the results are the same bits.
#[allow(clippy::too_many_arguments)]
fn conv_run_forward(stages: &[Stage], p: &ParamSet, x: &[f32], outs: &mut [Vec<f32>], r0: usize, n: usize, scratch: &mut [Scratch], saved: &mut [Vec<f32>], group: usize) {
    let len = stages.len();
    assert!((1..=MAX_RUN).contains(&len) && outs.len() >= len, "conv run: stages and outputs");
    let in_len = conv_of(&stages[0]).0.input_len();
    let level = conv_of(&stages[0]).0.kernels().vectors();
    assert!(x.len() >= n * in_len, "conv run: input too small");
    let mut out = [SendPtr(std::ptr::null_mut()); MAX_RUN];
    let mut keep = [None; MAX_RUN];
    for (l, stage) in stages.iter().enumerate() {
        let ol = stage.output_len();
        assert!(outs[l].len() >= (r0 + n) * ol, "conv run: output too small");
        out[l] = SendPtr(outs[l][r0 * ol..].as_mut_ptr());
        if stage.saved_len() > 0
            && let Some(v) = saved.get_mut(l).filter(|v| !v.is_empty())
        {
            assert!(v.len() >= n * stage.saved_len(), "conv run: saved columns too small");
            keep[l] = Some(SendPtr(v.as_mut_ptr()));
        }
    }
    let wat = offsets(stages, ConvLayer::wperm_len);
    let mut wperm = std::mem::take(&mut scratch[0].wperm);
    assert!(wperm.len() >= wat[len], "conv run: weight buffer too small");
    for (l, stage) in stages.iter().enumerate() {
        let (layer, w, _) = conv_of(stage);
        layer.prepare_forward(p.get(w), &mut wperm[wat[l]..wat[l + 1]]);
    }
    let per = per_task(n, scratch.len());
    let (tasks, group) = (n.div_ceil(per), group.clamp(1, per));
    scratch[..tasks].par_iter_mut().enumerate().for_each(|(t, sc)| wide(level, #[inline(always)] || {
        let mine = t * per..((t + 1) * per).min(n);
        for g0 in mine.clone().step_by(group) {
            let samples = g0..(g0 + group).min(mine.end);
            for (l, stage) in stages.iter().enumerate() {
                let (layer, w, b) = conv_of(stage);
                let (il, ol, cl) = (layer.input_len(), layer.output_len(), stage.saved_len());
                for s in samples.clone() {
                    // SAFETY: sample s's rows of every buffer of the run belong to this task
                    // alone; the layer below finished writing them (same task, earlier).
                    let xs = if l == 0 { &x[s * il..][..il] } else { unsafe { std::slice::from_raw_parts(out[l - 1].0.add(s * il), il) } };
                    let yo = unsafe { std::slice::from_raw_parts_mut(out[l].0.add(s * ol), ol) };
                    let cols = keep[l].map(|ptr| unsafe { std::slice::from_raw_parts_mut(ptr.0.add(s * cl), cl) });
                    layer.forward_one(p.get(w), &wperm[wat[l]..wat[l + 1]], p.get(b), xs, yo, sc, cols);
                }
            }
        }
    }));
    scratch[0].wperm = wperm;
}

/// Runs consecutive conv stages backward, each thread's samples a group at a time through
/// all of them (as [`conv_run_forward`]), from douts[last] (already set). Parameter
/// gradients are written into `grads`, the input gradient into `dx` if asked. The gradients
/// between the run's layers never leave the thread: each lives in its scratch
/// ([`Scratch::run_grads`], one group's worth per layer) from the layer above writing it to
/// the layer below reading it, so douts holds only the run's last output gradient.
#[allow(clippy::too_many_arguments)]
fn conv_run_backward(
    stages: &[Stage],
    p: &ParamSet,
    grads: &mut [f32],
    x: &[f32],
    outs: &[Vec<f32>],
    douts: &mut [Vec<f32>],
    dx: Option<&mut [f32]>,
    n: usize,
    scratch: &mut [Scratch],
    saved: &[Vec<f32>],
    group: usize,
) {
    let len = stages.len();
    assert!((1..=MAX_RUN).contains(&len) && outs.len() >= len && douts.len() >= len, "conv run: stages and buffers");
    let in_len = conv_of(&stages[0]).0.input_len();
    let level = conv_of(&stages[0]).0.kernels().vectors();
    assert!(x.len() >= n * in_len, "conv run: input too small");
    for (l, stage) in stages.iter().enumerate() {
        assert!(outs[l].len() >= n * stage.output_len(), "conv run: outputs too small");
    }
    let top_len = stages[len - 1].output_len();
    assert!(douts[len - 1].len() >= n * top_len, "conv run: output gradient too small");
    let top = SendPtr(douts[len - 1].as_mut_ptr());
    let dx = dx.map(|d| {
        assert!(d.len() >= n * in_len, "conv run: dx too small");
        SendPtr(d.as_mut_ptr())
    });
    let (wat, gwat, gbat) = (offsets(stages, ConvLayer::wperm_len), offsets(stages, ConvLayer::partial_len), offsets(stages, ConvLayer::bias_len));
    let mut wperm = std::mem::take(&mut scratch[0].wperm);
    assert!(wperm.len() >= wat[len], "conv run: weight buffer too small");
    for (l, stage) in stages.iter().enumerate() {
        let (layer, w, _) = conv_of(stage);
        if l > 0 || dx.is_some() {
            layer.prepare_backward(p.get(w), &mut wperm[wat[l]..wat[l + 1]]);
        }
    }
    let per = per_task(n, scratch.len());
    let (tasks, group) = (n.div_ceil(per), group.clamp(1, per));
    // Where each layer's group of output gradients starts in a thread's run_grads (the last
    // layer's live in douts).
    let mut gat = offsets(&stages[..len - 1], ConvLayer::output_len);
    gat.iter_mut().for_each(|o| *o *= group);
    let inner = gat[len - 1];
    scratch[..tasks].par_iter_mut().enumerate().for_each(|(t, sc)| wide(level, #[inline(always)] || {
        // Whole copies, so the closure captures the Sync wrappers rather than their pointers.
        let (top, dx) = (top, dx);
        let (mut dwp, mut dbp, mut between) = (std::mem::take(&mut sc.dw), std::mem::take(&mut sc.db), std::mem::take(&mut sc.run_grads));
        if between.len() < inner {
            // Only when the group size grew since the workspace was made (comparisons).
            between.resize(inner, 0.0);
        }
        dwp[..gwat[len]].fill(0.0);
        dbp[..gbat[len]].fill(0.0);
        let mine = t * per..((t + 1) * per).min(n);
        for g0 in mine.clone().step_by(group) {
            let samples = g0..(g0 + group).min(mine.end);
            for (l, stage) in stages.iter().enumerate().rev() {
                let (layer, w, _) = conv_of(stage);
                let (il, ol, cl) = (layer.input_len(), layer.output_len(), stage.saved_len());
                for s in samples.clone() {
                    let i = s - g0;
                    let xs = if l == 0 { &x[s * il..][..il] } else { &outs[l - 1][s * il..][..il] };
                    let (below, this) = between.split_at_mut(gat[l]);
                    let dyo = if l + 1 == len {
                        // SAFETY: sample s's rows of the run's output gradient belong to this task alone.
                        unsafe { std::slice::from_raw_parts_mut(top.0.add(s * ol), ol) }
                    } else {
                        &mut this[i * ol..][..ol]
                    };
                    let dxs = if l == 0 {
                        // SAFETY: as above, for the run's input gradient.
                        dx.map(|ptr| unsafe { std::slice::from_raw_parts_mut(ptr.0.add(s * il), il) })
                    } else {
                        Some(&mut below[gat[l - 1] + i * il..][..il])
                    };
                    let cols = saved.get(l).filter(|v| cl > 0 && !v.is_empty()).map(|v| &v[s * cl..][..cl]);
                    let (dw, db) = (&mut dwp[gwat[l]..gwat[l + 1]], &mut dbp[gbat[l]..gbat[l + 1]]);
                    layer.backward_one(p.get(w), &wperm[wat[l]..wat[l + 1]], xs, &outs[l][s * ol..][..ol], dyo, dw, db, dxs, sc, cols);
                }
            }
        }
        (sc.dw, sc.db, sc.run_grads) = (dwp, dbp, between);
    }));
    scratch[0].wperm = wperm;
    for (l, stage) in stages.iter().enumerate() {
        let (layer, w, b) = conv_of(stage);
        let (dw, db) = tensor_pair_mut(p, grads, w, b);
        layer.reduce_gradients(scratch[..tasks].iter().map(|sc| (&sc.dw[gwat[l]..gwat[l + 1]], &sc.db[gbat[l]..gbat[l + 1]])), dw, db);
    }
}

/// Whether stage i's output gradient stays inside a conv run ([`conv_run_backward`]): a conv
/// followed by a conv.
pub(super) fn gradient_stays_in_run(stages: &[Stage], i: usize) -> bool {
    joins_run(&stages[i]) && stages.get(i + 1).is_some_and(joins_run)
}

/// Runs `stages` forward: outs[i] = stage_i(outs[i − 1]), outs[−1] = x; rows `r0..r0 + n`.
/// `saved`: per stage, where a conv keeps its column matrices (empty: not kept).
#[allow(clippy::too_many_arguments)]
pub(super) fn body_forward(stages: &[Stage], p: &ParamSet, x: &[f32], outs: &mut [Vec<f32>], r0: usize, n: usize, scratch: &mut [Scratch], saved: &mut [Vec<f32>], group: usize) {
    let mut i = 0;
    while i < stages.len() {
        let (done, rest) = outs.split_at_mut(i);
        let input = if i == 0 { x } else { &done[i - 1][r0 * stages[i - 1].output_len()..] };
        let run = conv_run_len(&stages[i..]);
        if let Stage::Conv { layer, w, b } = stages[i]
            && layer.grouped()
        {
            let ol = layer.output_len();
            layer.forward(p.get(w), p.get(b), input, &mut rest[0][r0 * ol..], n, scratch, None);
            i += 1;
        } else if run > 0 {
            let keep = saved.get_mut(i..i + run).unwrap_or(&mut []);
            conv_run_forward(&stages[i..i + run], p, input, rest, r0, n, scratch, keep, group);
            i += run;
        } else {
            let ol = stages[i].output_len();
            stages[i].dense_forward(p, input, &mut rest[0][r0 * ol..], n);
            i += 1;
        }
    }
}

/// Runs `stages` backward from douts[last] (∂loss/∂ last output, already set). Param
/// gradients are written into `grads`; `dx` (∂loss/∂x) if asked.
#[allow(clippy::too_many_arguments)]
pub(super) fn body_backward(
    stages: &[Stage],
    p: &ParamSet,
    grads: &mut [f32],
    x: &[f32],
    outs: &[Vec<f32>],
    douts: &mut [Vec<f32>],
    dx: Option<&mut [f32]>,
    n: usize,
    scratch: &mut [Scratch],
    saved: &[Vec<f32>],
    group: usize,
) {
    let mut dx = dx;
    let mut end = stages.len();
    while end > 0 {
        let convs = conv_run_len_back(&stages[..end]);
        let start = end - convs.max(1);
        let input = if start == 0 { x } else { &outs[start - 1][..] };
        let (lower, upper) = douts.split_at_mut(start);
        let d_in: Option<&mut [f32]> = if start == 0 { dx.take() } else { Some(&mut lower[start - 1][..]) };
        if let Stage::Conv { layer, w, b } = stages[start]
            && layer.grouped()
        {
            let (dw, db) = tensor_pair_mut(p, grads, w, b);
            layer.backward(p.get(w), input, &outs[start], &mut upper[0], dw, db, d_in, n, scratch, None);
        } else if convs > 0 {
            let cols = saved.get(start..end).unwrap_or(&[]);
            conv_run_backward(&stages[start..end], p, grads, input, &outs[start..end], upper, d_in, n, scratch, cols, group);
        } else {
            stages[start].dense_backward(p, grads, input, &outs[start], &mut upper[0], d_in, n);
        }
        end = start;
    }
}
