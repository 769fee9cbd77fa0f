"""The metrics since disentanglement_lib (Zaidi et al.'s review, IRS, InfoMEC) from Python: the
reference implementations' numbers on the golden arrays of the Rust tests (identity codes are
exact in float32, which the package reads codes as), and the authors' call signatures."""

import math

import numpy as np
import pytest

import disentanglekit as dk


def golden_factors():
    """2,000 rows of factors with sizes 3, 5, 4, 6 from xorshift64* (the Rust tests' arrays)."""
    s = 0x9E3779B97F4A7C15
    mask = (1 << 64) - 1
    sizes = [3, 5, 4, 6]
    rows = []
    for _ in range(2000):
        row = []
        for size in sizes:
            s ^= s >> 12
            s ^= (s << 25) & mask
            s ^= s >> 27
            u = (((s * 2685821657736338717) & mask) >> 11) / float(1 << 53)
            row.append(math.floor(u * size))
        rows.append(row)
    return np.array(rows, dtype=np.int64)


FACTORS = golden_factors()
IDENTITY = FACTORS.astype(np.float32)


def test_the_golden_factors_are_the_rust_tests():
    assert FACTORS[:3].tolist() == [[0, 1, 2, 2], [1, 3, 3, 2], [1, 4, 0, 4]]
    assert FACTORS.sum(axis=0).tolist() == [1995, 3998, 3081, 5001]


@pytest.mark.parametrize(
    "function, key, expected",
    [
        (dk.mig_sup, "score", 0.99669951312969896),
        (dk.dcimig, "score", 0.99666801641484826),
        (dk.jemmig, "score", 0.99871445683399984),
        (dk.mig_zaidi, "score", 0.99669644511835631),
        (dk.modularity_zaidi, "score", 0.99999336216474632),
        (dk.sap_zaidi, "score", 0.99923508104420322),
    ],
)
def test_zaidi_et_al_metrics_equal_their_code(function, key, expected):
    assert function(IDENTITY, FACTORS)[key] == pytest.approx(expected, abs=1e-12)


def test_dci_and_explicitness_zaidi():
    r = dk.dci_zaidi(IDENTITY, FACTORS)
    assert r["disentanglement"] == pytest.approx(0.99999999999999989, abs=1e-12)
    assert r["informativeness"] == pytest.approx(0.99999910610462095, abs=1e-12)
    assert dk.explicitness_zaidi(IDENTITY, FACTORS)["score"] == pytest.approx(0.99732912850748145, abs=2e-5)


def test_irs_both_variants_and_infomec_with_the_authors_signature():
    assert dk.irs(IDENTITY, FACTORS)["IRS"] == 1.0
    assert dk.irs(IDENTITY, FACTORS, zaidi=True)["diff_quantile"] == 1.0
    r = dk.compute_infomec(FACTORS, IDENTITY, True)
    assert r["infom"] == pytest.approx(0.99055181264111647, abs=1e-12)
    assert r["infoc"] == pytest.approx(0.99055180420323152, abs=1e-12)
    assert 0.999999 < r["infoe"] <= 1.0
    assert np.asarray(r["nmi"]).shape == (4, 4)
    assert list(r["active_latents"]) == [True] * 4


def test_a_constant_code_is_a_clear_error_not_nan():
    codes = np.concatenate([IDENTITY, np.full((2000, 1), 2.0, np.float32)], axis=1)
    with pytest.raises(ValueError, match="code 4 is constant"):
        dk.mig_sup(codes, FACTORS)
    # The metrics that the reference does not turn into NaN still score.
    assert dk.dcimig(codes, FACTORS)["score"] == pytest.approx(0.99666801641484826, abs=1e-12)


def test_compute_irs_from_a_dataset_and_an_encoder():
    data = dk.datasets.load("dsprites")
    sizes = np.array(data.factors_num_values, dtype=np.float32)

    def encode(images):
        # A toy encoder: mean brightness and the centre of mass of each image.
        x = images.reshape(len(images), 64, 64)
        mass = x.sum(axis=(1, 2)) + 1e-6
        grid = np.arange(64, dtype=np.float32)
        return np.stack([mass, (x.sum(axis=1) * grid).sum(axis=1) / mass, (x.sum(axis=2) * grid).sum(axis=1) / mass], axis=1)

    r = dk.compute_irs(data, encode, random_state=0, num_train=500, batch_size=64)
    assert 0.0 < r["IRS"] <= 1.0
    assert r["num_active_dims"] == 3
    assert len(sizes) == 5


def test_dci_es_properties():
    """DCI-ES (no reference code): identity codes are explicit and the smallest probe suffices;
    noise codes are not; duplicated latents halve the size; bad capacities are ValueErrors."""
    rng = np.random.default_rng(0)
    identity = IDENTITY + 0.05 * rng.standard_normal(IDENTITY.shape).astype(np.float32)
    small = dict(capacities=[1, 2, 4], num_stages=50, random_state=0)
    r = dk.dci_es(identity, FACTORS, **small)
    assert r["explicitness"] > 0.95 and r["informativeness"] > 0.99 and r["size"] == 1.0
    assert r["losses"].shape == (4, 3) and r["num_train"] == 1333 and r["num_test"] == 667
    noise = rng.standard_normal(IDENTITY.shape).astype(np.float32)
    r = dk.dci_es(noise, FACTORS, **small)
    assert r["explicitness"] < 0.1 and r["informativeness"] < 0.05
    assert dk.dci_es(np.hstack([identity, identity]), FACTORS, **small)["size"] == 0.5
    with pytest.raises(ValueError, match="capacities"):
        dk.dci_es(identity, FACTORS, capacities=[2, 1])


def test_dci_es_equals_the_same_estimator_written_with_scikit_learn():
    """DCI-ES has no reference code here: the estimator written independently with
    scikit-learn's GradientBoostingRegressor (scripts/dci-es-sklearn.py at full size) gives the
    same E; curves agree up to tie-breaking between equally good splits."""
    from sklearn.ensemble import GradientBoostingRegressor

    rng = np.random.default_rng(1)
    n, caps, stages = 1500, [1, 2, 3, 5], 30
    f = np.stack([rng.integers(0, s, n) for s in (3, 6, 8)], axis=1)
    z = f / np.array([3, 6, 8]) + 0.05 * rng.standard_normal(f.shape)
    sign = rng.choice([-1.0, 1.0], n)
    codes = np.stack([z[:, 0], z[:, 1], sign, sign * (z[:, 2] - 0.5), rng.standard_normal(n)], axis=1).astype(np.float32)
    train = 1000
    ours = dk.dci_es(codes[:train], f[:train], codes[train:], f[train:], capacities=caps, num_stages=stages, random_state=0)
    for j in range(3):
        y = f[:, j].astype(np.float64)
        y = (y - y[:train].mean()) / y[:train].std()
        losses = []
        for depth in caps:
            m = GradientBoostingRegressor(n_estimators=stages, learning_rate=0.1, max_depth=depth, random_state=0)
            m.fit(codes[:train], y[:train])
            losses.append(np.mean((m.predict(codes[train:]) - y[train:]) ** 2))
        base = np.mean(y[train:] ** 2)
        best = min(losses)
        k = next(i for i, l in enumerate(losses) if l <= best + 1e-9 * base)
        area = sum(0.5 * (caps[i + 1] - caps[i]) * (losses[i] + losses[i + 1] - 2 * best) for i in range(k))
        e = 1 - area / (0.5 * (caps[-1] - caps[0]) * (base - best))
        assert abs(ours["per_factor_explicitness"][j] - e) < 1e-3, (j, ours["per_factor_explicitness"][j], e)
        assert np.allclose(ours["losses"][j], losses, atol=5e-3), (j, ours["losses"][j], losses)
    # The factor hidden in a product is the least explicit.
    assert ours["per_factor_explicitness"][2] < min(ours["per_factor_explicitness"][:2]) - 0.1
