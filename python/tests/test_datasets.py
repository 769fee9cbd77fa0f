"""Datasets with disentanglement_lib's GroundTruthData interface."""

import numpy as np
import pytest

import disentanglekit as dk


@pytest.fixture(scope="module")
def dsprites():
    return dk.datasets.load("dsprites")


def test_dsprites_has_the_reference_factor_grid(dsprites):
    assert dsprites.factors_num_values == [3, 6, 40, 32, 32]
    assert dsprites.factor_sizes == dsprites.factors_num_values
    assert dsprites.num_factors == 5
    assert dsprites.observation_shape == (64, 64, 1)
    assert len(dsprites) == 737_280
    assert not dsprites.is_stochastic
    assert "dsprites" in repr(dsprites)


def test_sampling_is_seeded_and_uniform(dsprites):
    a = dsprites.sample_factors(5000, 7)
    assert a.dtype == np.int64 and a.shape == (5000, 5)
    np.testing.assert_array_equal(a, dsprites.sample_factors(5000, 7))
    assert not np.array_equal(a, dsprites.sample_factors(5000, 8))
    assert (a >= 0).all() and (a < np.array(dsprites.factors_num_values)).all()
    # Uniform: shape classes 1/3 each, ± 4 standard deviations.
    counts = np.bincount(a[:, 0], minlength=3)
    assert np.all(np.abs(counts - 5000 / 3) < 4 * np.sqrt(5000 * (1 / 3) * (2 / 3)))
    # numpy generators: the same generator state gives the same draw; successive draws differ.
    r1, r2 = np.random.RandomState(3), np.random.RandomState(3)
    x = dsprites.sample_factors(10, r1)
    np.testing.assert_array_equal(x, dsprites.sample_factors(10, r2))
    assert not np.array_equal(x, dsprites.sample_factors(10, r1))
    g = dsprites.sample_factors(10, np.random.default_rng(0))
    assert g.shape == (10, 5)


def test_observations_follow_their_factors(dsprites):
    # Move the sprite along x with everything else fixed: its centroid moves right, monotonically.
    factors = np.array([[1, 5, 0, x, 16] for x in range(0, 32, 4)])
    images = dsprites.sample_observations_from_factors(factors, 0)
    assert images.dtype == np.float32 and images.shape == (8, 64, 64, 1)
    assert set(np.unique(images)) <= {0.0, 1.0}
    columns = np.arange(64)[None, :]
    centroid_x = [(img[:, :, 0] * columns).sum() / img.sum() for img in images]
    assert np.all(np.diff(centroid_x) > 0)
    # Scale: more pixels for a larger sprite.
    sizes = dsprites.sample_observations_from_factors(np.array([[0, s, 0, 16, 16] for s in range(6)])).sum(axis=(1, 2, 3))
    assert np.all(np.diff(sizes) > 0)
    f, obs = dsprites.sample(4, 11)
    np.testing.assert_array_equal(obs, dsprites.sample_observations_from_factors(f))


def test_colour_variant_is_stochastic_and_seeded():
    data = dk.datasets.load("color-dsprites")
    assert data.is_stochastic and data.observation_shape == (64, 64, 3)
    f = np.array([[0, 5, 0, 16, 16]] * 3)
    a = data.sample_observations_from_factors(f, 1)
    np.testing.assert_array_equal(a, data.sample_observations_from_factors(f, 1))
    assert not np.array_equal(a, data.sample_observations_from_factors(f, 2))
    # The sprite's colour is a per-image constant in [0.5, 1] per channel.
    pixels = a[0][a[0].sum(axis=2) > 0]
    assert np.allclose(pixels, pixels[0]) and np.all(pixels[0] >= 0.5 - 1e-6)


def test_shapes3d_and_cars3d_are_colour_images_without_download():
    shapes = dk.datasets.load("shapes3d")
    assert shapes.factors_num_values == [10, 10, 10, 8, 4, 15]
    assert shapes.observation_shape == (64, 64, 3)
    img = shapes.sample_observations(2, 0)
    assert img.shape == (2, 64, 64, 3) and 0.0 <= img.min() and img.max() <= 1.0
    cars = dk.datasets.load("cars3d:3")
    assert cars.factors_num_values == [4, 24, 3]
    assert cars.sample_observations(1, 0).shape == (1, 64, 64, 3)


def test_official_files_from_a_data_dir(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="dsprites_ndarray"):
        dk.datasets.load("dsprites-official", data_dir=tmp_path)
    monkeypatch.delenv("DISENTANGLE_DATA", raising=False)
    with pytest.raises(ValueError, match="data_dir=DIR"):
        dk.datasets.load("dsprites-official")
    # The environment variable names the folder when data_dir is not given.
    monkeypatch.setenv("DISENTANGLE_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        dk.datasets.load("dsprites-official")
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="broken.npz"):
        dk.datasets.load(str(bad))
    with pytest.raises(ValueError, match="unknown dataset"):
        dk.datasets.load("mnist")


def test_bad_factor_batches_raise(dsprites):
    with pytest.raises(ValueError, match="class 3"):
        dsprites.sample_observations_from_factors(np.array([[3, 0, 0, 0, 0]]))
    with pytest.raises(ValueError, match="columns"):
        dsprites.sample_observations_from_factors(np.zeros((2, 4), dtype=int))
    with pytest.raises(TypeError, match="integers"):
        dsprites.sample_observations_from_factors(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="negative"):
        dsprites.sample_observations_from_factors(-np.ones((1, 5), dtype=int))
    with pytest.raises(ValueError, match="in batches"):
        dsprites.sample_observations(10**9)
    with pytest.raises(ValueError, match="random_state"):
        dsprites.sample_factors(3, -1)
    with pytest.raises(TypeError, match="random_state"):
        dsprites.sample_factors(3, "seed")
