"""disentanglement_lib's downstream tasks, fairness, unified scores and UDR with its signatures."""

import numpy as np
import pytest

import disentanglekit as dk


class FactorImages:
    """A disentanglement_lib-style dataset whose 'observation' of factors f is f itself."""

    def __init__(self, sizes):
        self.factors_num_values = list(sizes)

    def sample_observations_from_factors(self, factors, random_state):
        return factors.astype(np.float32)[:, None, None, :]


def identity(observations):
    return observations.reshape(len(observations), -1)


def test_downstream_task_of_identity_codes_with_both_predictors():
    data = FactorImages([3, 4])
    r = dk.compute_downstream_task(data, identity, 0, None, [10, 200], 300, predictor="boosted_trees")
    assert r["200:mean_test_accuracy"] == 1.0
    assert set(k for k in r if k.startswith("10:")) >= {"10:mean_train_accuracy", "10:min_test_accuracy", "10:test_accuracy_factor_1"}
    r = dk.compute_downstream_task(data, identity, 0, num_train=[200], num_test=300, predictor="logistic_regression_cv")
    # One-vs-rest on a line separates the outer classes only: well above chance (1/3, 1/4).
    assert r["200:test_accuracy_factor_0"] > 0.6
    with pytest.raises(ValueError, match="predictor"):
        dk.compute_downstream_task(data, identity, 0, predictor="svm")


def test_fairness_is_zero_without_the_sensitive_factor():
    data = FactorImages([3, 4])
    r = dk.compute_fairness(data, lambda x: identity(x)[:, :1], 0, None, 300, 40)
    assert r["mean_fairness:pred0:sens1"] == 0.0
    assert "mean_fairness:mean_pred:mean_sens" in r


def test_reduced_and_strong_downstream_keys():
    data = FactorImages([3, 4])
    r = dk.compute_reduced_downstream_task(data, identity, 0)
    assert r["100:reduced_factor_0:removed_codes"] == [0]
    assert 0.0 <= r["100:mean_test_accuracy_other_factors"] <= 1.0
    r = dk.compute_strong_downstream_task(data, identity, 0, num_train=[200], num_test=100)
    assert r["200:strong_generalization_gap"] == pytest.approx(0.0, abs=1e-12)


def test_unified_scores_of_identity_codes():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 4, size=(900, 2))
    r = dk.unified_scores(factors.astype(np.float32), factors)
    # The other code shares a little information with each factor by chance (finite sample).
    assert r["mutual_information_matrix.mig"] == pytest.approx(1.0, abs=0.01)
    assert r["mutual_information_matrix.modularity"] == pytest.approx(1.0, abs=1e-3)
    assert np.array(r["accuracy_svm_matrix.matrix"]).shape == (2, 2)


def test_udr_of_a_permuted_sign_flipped_copy_is_high_and_a_collapsed_model_is_an_error():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(500, 4)).astype(np.float32)
    b = -a[:, [2, 0, 3, 1]]
    kl = [np.ones(4), np.ones(4)]
    for corr in ("lasso", "spearman"):
        r = dk.udr([a, b], kl, correlation_matrix=corr)
        assert all(s > 0.8 for s in r["model_scores"]), r["model_scores"]
        assert np.array(r["raw_correlations"][0][1]).shape == (4, 4)
    with pytest.raises(ValueError, match="collapsed"):
        dk.udr([a, b], [np.ones(4), np.zeros(4)])
    with pytest.raises(ValueError, match="lasso"):
        dk.udr([a, b], kl, correlation_matrix="pearson")


def test_downstream_task_on_arrays_trains_on_the_first_set_and_tests_on_the_second():
    rng = np.random.default_rng(2)
    f = rng.integers(0, 3, size=(400, 2))
    z = f.astype(np.float32) + 0.01 * rng.normal(size=(400, 2)).astype(np.float32)
    r = dk.downstream_task(z[:300], f[:300], z[300:], f[300:], predictor="boosted_trees")
    assert r["300:mean_test_accuracy"] == 1.0 and r["300:min_train_accuracy"] == 1.0
    # Shuffled test labels: near chance.
    r = dk.downstream_task(z[:300], f[:300], z[300:], rng.permutation(f[300:]), predictor="boosted_trees")
    assert r["300:mean_test_accuracy"] < 0.6


class Rows:
    """sample_observations hands out the next rows' indices (observations are row indices)."""

    def __init__(self):
        self.cursor = 0

    def sample_observations(self, n, random_state):
        out = np.arange(self.cursor, self.cursor + n)
        self.cursor += n
        return out


def test_compute_udr_sklearn_has_the_reference_signature_and_layout():
    rng = np.random.default_rng(3)
    base = rng.normal(size=(300, 3))
    models = [lambda i: (base[i], np.ones(3)), lambda i: (-base[i][:, [1, 2, 0]], np.ones(3)), lambda i: (base[i] + 0.5 * base[i][:, [2, 0, 1]], np.ones(3))]
    r = dk.compute_udr_sklearn(Rows(), models, np.random.RandomState(0), 10, 300)
    assert np.array(r["pairwise_disentanglement_scores"]).shape == (3, 3, 1)
    assert np.array(r["raw_correlations"]).shape == (3, 3, 3, 3)
    assert np.all(np.array(r["raw_correlations"])[0, 0] == 0)
    direct = dk.udr([base.astype(np.float32), (-base[:, [1, 2, 0]]).astype(np.float32), (base + 0.5 * base[:, [2, 0, 1]]).astype(np.float32)], [np.ones(3)] * 3)
    assert r["model_scores"] == pytest.approx(direct["model_scores"], abs=1e-12)
    # The copy ranks above the mixed model.
    assert r["model_scores"][1] > r["model_scores"][2]
    with pytest.raises(ValueError, match="multiple"):
        dk.compute_udr_sklearn(Rows(), models, 0, 7, 300)
