"""FactorVAE and BetaVAE scores with a Python representation_function, and evaluate()."""

import numpy as np
import pytest

import disentanglekit as dk
import reference


class FactorImages:
    """A disentanglement_lib-style dataset whose 'observation' of factors f is f itself as a
    (1, 1, K) image, so the identity encoder recovers every factor exactly."""

    def __init__(self, sizes):
        self.factors_num_values = list(sizes)
        self.calls = 0

    def sample_observations_from_factors(self, factors, random_state):
        assert isinstance(random_state, np.random.RandomState)
        self.calls += 1
        return factors.astype(np.float32)[:, None, None, :]


def identity(observations):
    return observations.reshape(len(observations), -1)


def test_factor_vae_score_of_an_identity_code_is_one():
    data = FactorImages([3, 6, 5, 4])
    r = dk.factor_vae_score(data, identity, 0, None, 64, 300, 200, 2000)
    assert r["eval_accuracy"] == 1.0 and r["train_accuracy"] == 1.0
    assert r["num_active_dims"] == 4
    assert data.calls > 0
    # Codes permuted: still one code per factor.
    r = dk.factor_vae_score(data, lambda x: identity(x)[:, ::-1], 0, num_train=300, num_eval=200, num_variance_estimate=2000)
    assert r["eval_accuracy"] == 1.0


def test_factor_vae_score_with_a_missing_factor():
    # Factor 3's code is constant: it is pruned, and that factor's votes are all wrong, so the
    # accuracy is 1 − (share of its votes) ≈ 3/4.
    data = FactorImages([3, 6, 5, 4])
    r = dk.compute_factor_vae(data, lambda x: identity(x) * np.array([1, 1, 1, 0], np.float32), 1, None, 64, 800, 800, 2000)
    assert r["num_active_dims"] == 3
    assert r["eval_accuracy"] == pytest.approx(0.75, abs=0.05)


def test_beta_vae_score_of_an_identity_code_is_one():
    data = FactorImages([3, 6, 5, 4])
    r = dk.beta_vae_score(data, identity, np.random.RandomState(0), None, 16, 300, 200)
    assert r["eval_accuracy"] == 1.0
    # An encoder that ignores its input cannot tell the factors apart: chance level 1/4.
    rng = np.random.default_rng(0)
    noise = dk.compute_beta_vae_sklearn(data, lambda x: rng.standard_normal((len(x), 4)), 0, None, 16, 400, 400)
    assert noise["eval_accuracy"] == pytest.approx(0.25, abs=0.08)


def centroid_encoder(images):
    """A hand-written dSprites encoder: the sprite's centroid (x, y) and its area."""
    mass = images[..., 0].sum(axis=(1, 2))
    xs = (images[..., 0] * np.arange(64)[None, None, :]).sum(axis=(1, 2)) / mass
    ys = (images[..., 0] * np.arange(64)[None, :, None]).sum(axis=(1, 2)) / mass
    return np.stack([xs, ys, mass], axis=1)


def test_factor_vae_score_on_dsprites_agrees_with_a_numpy_implementation():
    data = dk.datasets.load("dsprites")
    seen = []

    def encoder(images):
        seen.append(images.shape)
        assert images.dtype == np.float32
        return centroid_encoder(images)

    ours = dk.factor_vae_score(data, encoder, 3, num_train=400, num_eval=400, num_variance_estimate=2000)
    assert seen[0][1:] == (64, 64, 1)
    theirs = reference.factor_vae(data, centroid_encoder, np.random.default_rng(3), num_train=400, num_eval=400, num_variance_estimate=2000)
    # Position x, position y and scale are found; shape and orientation are not (≈ 3/5 + chance).
    assert ours["eval_accuracy"] == pytest.approx(theirs, abs=0.06)
    assert 0.5 < ours["eval_accuracy"] < 0.85
    # Same seed → same score.
    again = dk.factor_vae_score(data, centroid_encoder, 3, num_train=400, num_eval=400, num_variance_estimate=2000)
    assert again["eval_accuracy"] == ours["eval_accuracy"]


def test_evaluate_returns_disentanglement_lib_layout():
    data = FactorImages([3, 4, 5])
    r = dk.evaluate(data, identity, "mig,sap,modularity", 0)
    # Not exactly 1: the empirical MI of a code with the other, independent factors is not 0.
    assert r["mig"]["discrete_mig"] == pytest.approx(1.0, abs=2e-3)
    assert set(r) >= {"mig", "sap_score", "modularity_explicitness", "disentangle"}
    assert r["modularity_explicitness"]["modularity_score"] == pytest.approx(1.0, abs=2e-3)
    assert r["disentangle"]["mig.num_samples"] == 10_000
    with pytest.raises(ValueError, match="information_diagnostics"):
        dk.evaluate(data, identity, ["info"])
    with pytest.raises(ValueError, match="unknown metric"):
        dk.evaluate(data, identity, "migg")


def test_exceptions_of_the_representation_function_propagate():
    data = FactorImages([3, 4])

    class Boom(Exception):
        pass

    def failing(x):
        raise Boom("encoder exploded")

    with pytest.raises(Boom, match="encoder exploded"):
        dk.factor_vae_score(data, failing, 0)
    # evaluate() records metric failures per metric, but a Python exception is raised.
    with pytest.raises(Boom):
        dk.evaluate(data, failing, "mig,factor-vae")
    with pytest.raises(KeyboardInterrupt):
        dk.beta_vae_score(data, lambda x: (_ for _ in ()).throw(KeyboardInterrupt()), 0)
    with pytest.raises(ValueError, match="rows of codes"):
        dk.factor_vae_score(data, lambda x: identity(x)[:1], 0)
    with pytest.raises(ValueError, match="non-finite"):
        dk.factor_vae_score(data, lambda x: identity(x) * np.nan, 0)
    with pytest.raises(TypeError, match="callable"):
        dk.factor_vae_score(data, "not a function", 0)
    with pytest.raises(TypeError, match="ground_truth_data"):
        dk.factor_vae_score(object(), identity, 0)
