from typing import Any, Callable, Dict, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from . import datasets as datasets
from .datasets import GroundTruthData

__version__: str

ArrayLike = npt.ArrayLike
RandomState = Union[int, None, np.random.RandomState, np.random.Generator]
Result = Dict[str, Any]
RepresentationFunction = Callable[[npt.NDArray[np.float32]], ArrayLike]

def mig(codes: ArrayLike, factors: ArrayLike, *, num_bins: int = 20) -> Result:
    """Discrete MIG (disentanglement_lib's estimator). codes (N, D), factors (N, K) integers.
    Returns ``discrete_mig``, ``discrete_per_factor``, ``mutual_information`` (D, K), ..."""

def mig_continuous(
    mean: ArrayLike, logvar: ArrayLike, factors: ArrayLike, *, num_z_samples: int = 10000, seed: int = 0
) -> Result:
    """Chen et al.'s MIG over Gaussian posteriors N(mean, exp(logvar)). Returns ``continuous``, ..."""

def dci(
    codes: ArrayLike,
    factors: ArrayLike,
    codes_test: Optional[ArrayLike] = None,
    factors_test: Optional[ArrayLike] = None,
) -> Result:
    """DCI with gradient-boosted trees. Returns ``disentanglement``, ``completeness``,
    ``informativeness_train``, ``informativeness_test``, ``importance_matrix`` (D, K), ..."""

def sap(
    codes: ArrayLike,
    factors: ArrayLike,
    codes_test: Optional[ArrayLike] = None,
    factors_test: Optional[ArrayLike] = None,
) -> Result:
    """SAP score (discrete factors, linear SVM per code). Returns ``SAP_score``, ``score_matrix``, ..."""

def modularity(codes: ArrayLike, factors: ArrayLike, *, num_bins: int = 20) -> Result:
    """Modularity. Returns ``modularity_score``, ``per_code``, ..."""

def explicitness(
    codes: ArrayLike,
    factors: ArrayLike,
    codes_test: Optional[ArrayLike] = None,
    factors_test: Optional[ArrayLike] = None,
) -> Result:
    """Explicitness (logistic regression, ROC AUC). Returns ``explicitness_score_train``,
    ``explicitness_score_test``, ..."""

def unsupervised(codes: ArrayLike, *, num_bins: int = 20) -> Result:
    """Returns ``gaussian_total_correlation``, ``gaussian_wasserstein_correlation``,
    ``gaussian_wasserstein_correlation_norm``, ``mutual_info_score``, ..."""

def information_diagnostics(
    mean: ArrayLike,
    logvar: ArrayLike,
    *,
    noise_correlation: float = 0.0,
    num_z_samples: int = 10000,
    seed: int = 0,
) -> Result:
    """I(z_j; x), I(z; x), isolation gap, aggregate and conditional TC, ELBO decomposition."""

def factor_vae_score(
    ground_truth_data: Any,
    representation_function: RepresentationFunction,
    random_state: RandomState = None,
    artifact_dir: Any = None,
    batch_size: int = 64,
    num_train: int = 10000,
    num_eval: int = 5000,
    num_variance_estimate: int = 10000,
) -> Result:
    """FactorVAE score, disentanglement_lib's compute_factor_vae. Returns ``train_accuracy``,
    ``eval_accuracy``, ``num_active_dims``, ..."""

def beta_vae_score(
    ground_truth_data: Any,
    representation_function: RepresentationFunction,
    random_state: RandomState = None,
    artifact_dir: Any = None,
    batch_size: int = 64,
    num_train: int = 10000,
    num_eval: int = 5000,
) -> Result:
    """BetaVAE score, disentanglement_lib's compute_beta_vae_sklearn. Returns ``train_accuracy``,
    ``eval_accuracy``, ..."""

compute_factor_vae = factor_vae_score
compute_beta_vae_sklearn = beta_vae_score

def evaluate(
    ground_truth_data: Any,
    representation_function: RepresentationFunction,
    metrics: Union[str, Sequence[str], None] = None,
    random_state: RandomState = None,
) -> Dict[str, Dict[str, Any]]:
    """Several metrics at the reference sample sizes, in disentanglement_lib's layout
    (``{"mig": {"discrete_mig": ...}, "factor_vae_metric": {...}, ...}``)."""

def mig_sup(codes: ArrayLike, factors: ArrayLike, *, num_bins: int = 10, bin_factors: bool = True) -> Result:
    """MIG-sup (Li et al. 2020), Zaidi et al.'s estimator. Returns ``score``, ``per_code``, ..."""

def dcimig(codes: ArrayLike, factors: ArrayLike, *, num_bins: int = 10, bin_factors: bool = True) -> Result:
    """DCIMIG (Sepliarskaia et al. 2019), Zaidi et al.'s estimator. Returns ``score``, ``per_factor``, ..."""

def jemmig(codes: ArrayLike, factors: ArrayLike, *, num_bins: int = 10, bin_factors: bool = True) -> Result:
    """JEMMIG (Do & Tran 2020), Zaidi et al.'s estimator. Returns ``score``, ``per_factor``, ``top_code``, ..."""

def mig_zaidi(codes: ArrayLike, factors: ArrayLike, *, num_bins: int = 10, bin_factors: bool = True) -> Result:
    """MIG as Zaidi et al.'s code computes it (normalized by the code's entropy). Returns ``score``, ..."""

def modularity_zaidi(codes: ArrayLike, factors: ArrayLike, *, num_bins: int = 10, bin_factors: bool = True) -> Result:
    """Modularity with Zaidi et al.'s estimator. Returns ``score``, ``per_code``, ..."""

def sap_zaidi(codes: ArrayLike, factors: ArrayLike) -> Result:
    """SAP from squared correlations (Zaidi et al.'s default). Returns ``score``, ``r_squared``, ..."""

def irs(
    codes: ArrayLike,
    factors: ArrayLike,
    *,
    diff_quantile: Optional[float] = None,
    num_bins: Optional[int] = None,
    zaidi: bool = False,
) -> Result:
    """Interventional Robustness Score of codes and factors (disentanglement_lib's defaults, or
    Zaidi et al.'s with ``zaidi=True``). Returns ``IRS``, ``disentanglement_scores``, ..."""

def compute_irs(
    ground_truth_data: GroundTruthData,
    representation_function: RepresentationFunction,
    random_state: RandomState = None,
    artifact_dir: Any = None,
    diff_quantile: float = 0.99,
    num_train: int = 10000,
    batch_size: int = 16,
) -> Result:
    """disentanglement_lib's ``compute_irs``. Returns ``IRS``, ``num_active_dims``, ..."""

def infomec(codes: ArrayLike, factors: ArrayLike, *, discrete_latents: bool = False, random_state: int = 0) -> Result:
    """InfoMEC (Hsu et al. 2023). Returns ``infom``, ``infoc``, ``infoe``, ``nmi`` (K, D), ``active_latents``, ..."""

def compute_infomec(sources: ArrayLike, latents: ArrayLike, discrete_latents: bool = False) -> Result:
    """The authors' signature of :func:`infomec` (sources = factors, latents = codes)."""

def explicitness_zaidi(codes: ArrayLike, factors: ArrayLike, *, num_bins: int = 10, bin_factors: bool = True) -> Result:
    """Explicitness as Zaidi et al.'s code computes it. Returns ``score``, ``per_factor_auc``, ..."""

def dci_es(
    codes: ArrayLike,
    factors: ArrayLike,
    codes_test: Optional[ArrayLike] = None,
    factors_test: Optional[ArrayLike] = None,
    *,
    capacities: Sequence[int] = (1, 2, 3, 4, 5, 6, 7, 8),
    num_stages: int = 100,
    learning_rate: float = 0.1,
    min_informativeness: float = 0.05,
    random_state: RandomState = None,
) -> Result:
    """DCI-ES explicitness E and size S (Eastwood et al. 2023)."""
    ...

def dci_zaidi(codes: ArrayLike, factors: ArrayLike) -> Result:
    """DCI with Lasso importances (Zaidi et al.). Returns ``disentanglement``, ``completeness``, ``informativeness``, ..."""
