"""disentanglekit: disentanglement metrics and ground-truth datasets, written in Rust.

The metrics equal disentanglement_lib's own code on the same arrays; the interventional scores
(FactorVAE, BetaVAE) take a ``representation_function`` the way disentanglement_lib does, so a
PyTorch or JAX encoder plugs in with one lambda. No TensorFlow, no gin.

Array metrics take codes as (N, D) and factor classes as (N, K) -- one sample per row.
disentanglement_lib's internal ``_compute_*`` functions take the transposes (D, N) and (K, N):
pass ``mus.T`` and ``ys.T`` from such code. Results are dicts with disentanglement_lib's key names
(``discrete_mig``, ``SAP_score``, ``eval_accuracy``, ...).

>>> import numpy as np, disentanglekit as dk
>>> factors = np.random.default_rng(0).integers(0, 4, size=(1000, 2))
>>> round(dk.mig(factors.astype(np.float32), factors)["discrete_mig"], 3)
1.0
"""

from ._native import (
    __version__,
    beta_vae_score,
    compute_downstream_task,
    compute_fairness,
    compute_infomec,
    compute_irs,
    compute_reduced_downstream_task,
    compute_strong_downstream_task,
    compute_unified_scores,
    dci,
    dci_es,
    dci_zaidi,
    dcimig,
    downstream_task,
    evaluate,
    explicitness,
    explicitness_zaidi,
    factor_vae_score,
    infomec,
    information_diagnostics,
    irs,
    jemmig,
    mig,
    mig_continuous,
    mig_sup,
    mig_zaidi,
    modularity,
    modularity_zaidi,
    sap,
    sap_zaidi,
    udr,
    unified_scores,
    unsupervised,
)
from . import datasets

# disentanglement_lib's names of the interventional scores.
compute_factor_vae = factor_vae_score
compute_beta_vae_sklearn = beta_vae_score


def compute_udr_sklearn(ground_truth_data, representation_functions, random_state, batch_size,
                        num_data_points, correlation_matrix="lasso", filter_low_kl=True,
                        include_raw_correlations=True, kl_filter_threshold=0.01):
    """disentanglement_lib's ``compute_udr_sklearn`` with its signature: every function in
    ``representation_functions`` maps the same observations (``ground_truth_data.sample_observations
    (batch_size, random_state)``, ``num_data_points`` in all) to ``(codes, kl)``, the batch's codes
    (batch, D) and its latents' mean KL (D,); the scores come from :func:`udr`.

    Returns disentanglement_lib's dict: ``model_scores``, ``pairwise_disentanglement_scores``
    (models x models x 1) and, with ``include_raw_correlations``, ``raw_correlations``
    (models x models x D x D, zeros on the diagonal).
    """
    import numpy as np

    if batch_size <= 0 or num_data_points % batch_size != 0:
        raise ValueError("num_data_points must be a multiple of batch_size")
    if not isinstance(random_state, np.random.RandomState):
        random_state = np.random.RandomState(random_state)
    codes = [[] for _ in representation_functions]
    kls = [[] for _ in representation_functions]
    for _ in range(num_data_points // batch_size):
        observations = ground_truth_data.sample_observations(batch_size, random_state)
        for j, function in enumerate(representation_functions):
            c, kl = function(observations)
            codes[j].append(np.asarray(c, dtype=np.float32))
            kls[j].append(np.asarray(kl, dtype=np.float64))
    result = udr([np.concatenate(c) for c in codes], [np.mean(k, axis=0) for k in kls],
                 correlation_matrix=correlation_matrix, filter_low_kl=filter_low_kl,
                 kl_filter_threshold=kl_filter_threshold)
    out = {
        "pairwise_disentanglement_scores": [[[v] for v in row] for row in result["pairwise_disentanglement_scores"]],
        "model_scores": list(result["model_scores"]),
    }
    if include_raw_correlations:
        d = codes[0][0].shape[1]
        out["raw_correlations"] = [[m if len(m) else [[0.0] * d for _ in range(d)] for m in row]
                                   for row in result["raw_correlations"]]
    return out

__all__ = [
    "__version__",
    "beta_vae_score",
    "compute_beta_vae_sklearn",
    "compute_factor_vae",
    "compute_downstream_task",
    "compute_fairness",
    "compute_infomec",
    "compute_irs",
    "compute_reduced_downstream_task",
    "compute_udr_sklearn",
    "compute_strong_downstream_task",
    "compute_unified_scores",
    "datasets",
    "dci",
    "dci_es",
    "dci_zaidi",
    "dcimig",
    "downstream_task",
    "evaluate",
    "explicitness",
    "explicitness_zaidi",
    "factor_vae_score",
    "infomec",
    "information_diagnostics",
    "irs",
    "jemmig",
    "mig",
    "mig_continuous",
    "mig_sup",
    "mig_zaidi",
    "modularity",
    "modularity_zaidi",
    "sap",
    "sap_zaidi",
    "udr",
    "unified_scores",
    "unsupervised",
]
