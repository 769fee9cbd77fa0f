"""Array metrics against independent NumPy / scikit-learn computations (tests/reference.py)."""

import numpy as np
import pytest

import disentanglekit as dk
import reference


def entangled_sample(n=1500, seed=0):
    """Four factors; codes mix them with noise so that every score is strictly between 0 and 1."""
    rng = np.random.default_rng(seed)
    sizes = [3, 5, 4, 6]
    factors = np.stack([rng.integers(0, s, size=n) for s in sizes], axis=1)
    mixing = np.array(
        [[1.0, 0.2, 0.0, 0.0], [0.0, 1.0, 0.4, 0.0], [0.0, 0.0, 1.0, 0.0], [0.3, 0.0, 0.0, 0.2], [0.0, 0.0, 0.0, 0.0]]
    )
    codes = factors @ mixing.T + 0.3 * rng.standard_normal((n, 5))
    return codes.astype(np.float32), factors


def test_mig_matches_the_reference_estimator():
    codes, factors = entangled_sample()
    ours = dk.mig(codes, factors)
    assert ours["discrete_mig"] == pytest.approx(reference.mig(codes, factors), abs=1e-9)
    assert 0.05 < ours["discrete_mig"] < 0.95
    mi = reference.mutual_info(reference.discretize(codes), factors)
    np.testing.assert_allclose(ours["mutual_information"], mi, atol=1e-9)
    assert ours["num_samples"] == 1500 and ours["num_bins"] == 20
    for bins in (5, 37):
        assert dk.mig(codes, factors, num_bins=bins)["discrete_mig"] == pytest.approx(reference.mig(codes, factors, bins), abs=1e-9)


def test_mig_golden_values():
    # A code that copies the factor and a constant code: the gap is the whole entropy.
    f = np.repeat(np.arange(3), 4)[:, None]
    codes = np.concatenate([f, np.zeros_like(f)], axis=1).astype(np.float32)
    assert dk.mig(codes, f)["discrete_mig"] == pytest.approx(1.0, abs=1e-12)
    # Two fair independent bits in a balanced design: each code's MI with the other factor is 0.
    bits = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 5)
    result = dk.mig(bits.astype(np.float32), bits)
    assert result["discrete_mig"] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(result["mutual_information"], np.log(2) * np.eye(2), atol=1e-12)


def test_inputs_are_the_same_in_any_layout_and_dtype():
    codes, factors = entangled_sample(600)
    base = dk.mig(codes, factors)["discrete_mig"]
    # float64, Fortran order, a transposed view (dlib's (D, N) passed as .T), int32 factors, lists.
    assert dk.mig(codes.astype(np.float64), factors)["discrete_mig"] == pytest.approx(base, abs=1e-12)
    assert dk.mig(np.asfortranarray(codes), np.asfortranarray(factors))["discrete_mig"] == base
    assert dk.mig(np.ascontiguousarray(codes.T).T, factors.astype(np.int32))["discrete_mig"] == base
    assert dk.mig(codes.tolist(), factors.tolist())["discrete_mig"] == pytest.approx(base, abs=1e-12)


def test_modularity_matches_the_reference():
    codes, factors = entangled_sample()
    ours = dk.modularity(codes, factors)
    assert ours["modularity_score"] == pytest.approx(reference.modularity(codes, factors), abs=1e-9)
    # Codes that each copy one factor of a balanced design (every combination equally often, so
    # the empirical MI of a code with the other factor is exactly 0) are perfectly modular.
    f = np.array([(a, b) for a in range(4) for b in range(6)] * 20)
    assert dk.modularity(f.astype(np.float32), f)["modularity_score"] == pytest.approx(1.0, abs=1e-12)


def test_unsupervised_scores_match_the_reference():
    codes, _ = entangled_sample()
    codes = codes[:, :4]  # the fifth code is pure noise; keep the covariance well conditioned anyway
    ours = dk.unsupervised(codes)
    expected = reference.unsupervised(codes)
    for key, value in expected.items():
        assert ours[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    # Independent Gaussian codes: total correlation near 0.
    white = np.random.default_rng(1).standard_normal((20_000, 3)).astype(np.float32)
    assert abs(dk.unsupervised(white)["gaussian_total_correlation"]) < 1e-3


def test_explicitness_matches_scikit_learn_logistic_regression():
    codes, factors = entangled_sample(900)
    ours = dk.explicitness(codes[:600], factors[:600], codes[600:], factors[600:])
    train, test = reference.explicitness(codes[:600].astype(np.float64), factors[:600], codes[600:].astype(np.float64), factors[600:])
    assert ours["explicitness_score_train"] == pytest.approx(train, abs=1e-4)
    assert ours["explicitness_score_test"] == pytest.approx(test, abs=1e-4)
    # One sample split two thirds / one third is the same as passing the parts.
    split = dk.explicitness(codes, factors)
    assert split["explicitness_score_test"] == ours["explicitness_score_test"]
    assert (split["num_train"], split["num_test"]) == (600, 300)


def test_dci_matches_scikit_learn_gradient_boosting():
    codes, factors = entangled_sample(600)
    codes, factors = codes[:, :4], factors[:, :3]
    ours = dk.dci(codes[:400], factors[:400], codes[400:], factors[400:])
    expected = reference.dci(codes[:400].astype(np.float64), factors[:400], codes[400:].astype(np.float64), factors[400:])
    # Trees may break ties between equally good splits differently: importances agree to 0.005
    # (0.0013 seen), accuracies to one test sample in a hundred.
    np.testing.assert_allclose(ours["importance_matrix"], expected["importance_matrix"], atol=0.005)
    for key in ("disentanglement", "completeness"):
        assert ours[key] == pytest.approx(expected[key], abs=0.005), key
    for key in ("informativeness_train", "informativeness_test"):
        assert ours[key] == pytest.approx(expected[key], abs=0.01), key


def test_sap_matches_scikit_learn_linear_svm():
    codes, factors = entangled_sample(900)
    ours = dk.sap(codes[:600], factors[:600], codes[600:], factors[600:])
    score, matrix = reference.sap(codes[:600].astype(np.float64), factors[:600], codes[600:].astype(np.float64), factors[600:])
    # Accuracies over 300 test rows: at most one row's prediction may differ (equal here).
    np.testing.assert_allclose(ours["score_matrix"], matrix, atol=1 / 300 + 1e-12)
    assert ours["SAP_score"] == pytest.approx(score, abs=2 / 300)


def toy_posteriors(n=3000, rho=0.0, seed=0):
    """x ~ N(0, I_3), mean = A x, fixed σ: population values are known in closed form."""
    rng = np.random.default_rng(seed)
    a = np.array([[1.0, 0.0, 0.0], [0.5, 1.0, 0.0]])
    sigma = np.array([0.5, 0.8])
    x = rng.standard_normal((n, 3))
    mean = (x @ a.T).astype(np.float32)
    logvar = np.tile(np.log(sigma**2), (n, 1)).astype(np.float32)
    corr = np.array([[1.0, rho], [rho, 1.0]])
    s = np.diag(sigma) @ corr @ np.diag(sigma)
    v = a @ a.T + s
    return mean, logvar, {
        "mi_joint": 0.5 * (np.linalg.slogdet(v)[1] - np.linalg.slogdet(s)[1]),
        "mi_per_dim": 0.5 * np.log(np.diag(v) / np.diag(s)),
        "conditional_tc": -0.5 * np.linalg.slogdet(corr)[1],
    }


@pytest.mark.parametrize("rho", [0.0, 0.6])
def test_information_diagnostics_recover_closed_form_values(rho):
    mean, logvar, truth = toy_posteriors(rho=rho)
    d = dk.information_diagnostics(mean, logvar, noise_correlation=rho, num_z_samples=3000, seed=1)
    # The conditional TC is analytic; the rest are Monte Carlo estimates with N = 3000.
    assert d["conditional_tc"] == pytest.approx(truth["conditional_tc"], abs=1e-9)
    np.testing.assert_allclose(d["mi_per_dim"], truth["mi_per_dim"], atol=0.05)
    assert d["mi_joint"] == pytest.approx(truth["mi_joint"], abs=0.08)
    # Lemma 2: I(z; x) − Σ I(z_j; x) = conditional TC − aggregate TC, and the gap is its negative.
    lhs = d["mi_joint"] - np.sum(d["mi_per_dim"])
    assert lhs == pytest.approx(d["conditional_tc"] - d["aggregate_tc"], abs=1e-9)
    assert d["isolation_gap"] == pytest.approx(-lhs, abs=1e-9)
    # Same seed → same numbers.
    again = dk.information_diagnostics(mean, logvar, noise_correlation=rho, num_z_samples=3000, seed=1)
    assert again["mi_joint"] == d["mi_joint"]


def test_mig_continuous_ranks_an_informative_code_above_a_noisy_one():
    rng = np.random.default_rng(5)
    f = rng.integers(0, 8, size=(2000, 1))
    mean = np.concatenate([f + 0.05 * rng.standard_normal((2000, 1)), rng.standard_normal((2000, 1))], axis=1).astype(np.float32)
    logvar = np.full_like(mean, np.log(0.01))
    r = dk.mig_continuous(mean, logvar, f, num_z_samples=2000)
    # Code 0 determines the factor: I(z_0; v) ≈ H(v) = ln 8; code 1 carries nothing.
    assert r["continuous"] > 0.9
    assert r["continuous"] <= 1.0 + 1e-6


def test_mig_continuous_matches_a_numpy_monte_carlo_estimate():
    rng = np.random.default_rng(6)
    f = np.stack([rng.integers(0, 5, 1200), rng.integers(0, 3, 1200)], axis=1)
    mean = np.stack([f[:, 0] + 0.5 * rng.standard_normal(1200), 0.7 * f[:, 1] + 0.3 * f[:, 0], rng.standard_normal(1200)], axis=1).astype(np.float32)
    logvar = np.full_like(mean, np.log(0.2))
    ours = dk.mig_continuous(mean, logvar, f, num_z_samples=1200, seed=0)["continuous"]
    # Different random draws: the two Monte Carlo estimates agree within their noise.
    theirs = reference.mig_continuous(mean, logvar, f, np.random.default_rng(0))
    assert 0.1 < ours < 0.9
    assert ours == pytest.approx(theirs, abs=0.04)
