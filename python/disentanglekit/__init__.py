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
    "compute_strong_downstream_task",
    "compute_unified_scores",
    "datasets",
    "dci",
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
