"""disentanglekit.torch on its own: save/load round trips, the KL it computes, and damaged files.

(That its networks compute what ours compute is tested from Rust, crates/train/tests/torch_bridge.rs,
for every encoder and noise; that a run crosses both ways, by the README's example.)
"""

import json
import math
import os
import struct

import pytest

torch = pytest.importorskip("torch")
from disentanglekit import torch as dkt  # noqa: E402


def small(encoder="split", noise="independent", objective="vae"):
    torch.manual_seed(0)
    return dkt.DisentangleVAE(dkt.model_config(latents=4, encoder=encoder, noise=noise, objective=objective))


@pytest.mark.parametrize("encoder", ["conv", "conv-k4", "split", "shared"])
def test_save_then_load_gives_the_same_module(tmp_path, encoder):
    model = small(encoder, objective="factor-vae")
    path = tmp_path / "m.safetensors"
    dkt.save(model, path, dataset="dsprites", steps=12, seed=3)
    back = dkt.load(path)
    assert back.header["step"] == 12 and back.header["run"] == {"dataset": "dsprites", "steps": 12, "seed": 3}
    assert back.config == model.config and back.discriminator is not None
    a, b = model.state_dict(), back.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    x = torch.rand(3, 1, 64, 64)
    with torch.no_grad():
        assert all(torch.equal(u, v) for u, v in zip(model.encode(x), back.encode(x)))
    # Saving a loaded module keeps what the file said.
    dkt.save(back, tmp_path / "again.safetensors")
    assert dkt.load(tmp_path / "again.safetensors").header["run"]["seed"] == 3


@pytest.mark.parametrize("noise", ["independent", "correlated"])
def test_kl_divergence_equals_the_closed_form_of_torch_distributions(noise):
    model = small(noise=noise)
    mu, logvar = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64) * 0.5
    rho = 0.9 if noise == "correlated" else 0.0
    corr = (1 - rho) * torch.eye(4, dtype=torch.float64) + rho * torch.ones(4, 4, dtype=torch.float64)
    sd = torch.exp(0.5 * logvar)
    want = []
    for i in range(5):
        q = torch.distributions.MultivariateNormal(mu[i], torch.diag(sd[i]) @ corr @ torch.diag(sd[i]))
        p = torch.distributions.MultivariateNormal(torch.zeros(4, dtype=torch.float64), torch.eye(4, dtype=torch.float64))
        want.append(torch.distributions.kl_divergence(q, p))
    assert torch.allclose(model.kl_divergence(mu, logvar), torch.stack(want), atol=1e-9)


def test_forward_samples_the_configured_noise():
    model = small(noise="correlated")
    eps = model.sample_noise(100_000, torch.Generator().manual_seed(0))
    cov = torch.cov(eps.T)
    assert (cov - (0.1 * torch.eye(4) + 0.9 * torch.ones(4, 4))).abs().max() < 0.02
    logits, mu, logvar, z = model(torch.rand(2, 1, 64, 64), generator=torch.Generator().manual_seed(1))
    assert logits.shape == (2, 1, 64, 64) and z.shape == mu.shape == logvar.shape == (2, 4)


def write_raw(path, header, body=b""):
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + body)


def test_damaged_files_are_value_errors_naming_the_file(tmp_path):
    model = small("conv")
    good = tmp_path / "good.safetensors"
    dkt.save(model, good, dataset="dsprites", steps=1)
    data = good.read_bytes()
    cases = {
        "truncated": data[: len(data) - 64],
        "short": data[:5],
        "lying-length": struct.pack("<Q", 1 << 40) + data[8:],
        "not-json": struct.pack("<Q", 4) + b"{{{{",
    }
    for name, raw in cases.items():
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(raw)
        with pytest.raises(ValueError, match=name):
            dkt.load(path)
    tensors, metadata = dkt.read_safetensors(good)
    edits = {
        "missing": (lambda t, m: t.pop("decoder.dense1.weight"), "missing tensors"),
        "extra": (lambda t, m: t.__setitem__("encoder.extra", torch.zeros(2)), "does not have"),
        "shape": (lambda t, m: t.__setitem__("encoder.mu.weight", t["encoder.mu.weight"].T.contiguous()), "has shape"),
        "no-metadata": (lambda t, m: m.clear(), "no 'disentangle' metadata"),
        "version": (lambda t, m: m.__setitem__("disentangle", m["disentangle"].replace('"version":1', '"version":7')), "layout version 7"),
    }
    for name, (edit, message) in edits.items():
        t, m = dict(tensors), dict(metadata)
        edit(t, m)
        path = tmp_path / f"{name}.safetensors"
        dkt.write_safetensors(path, t, m)
        with pytest.raises(ValueError, match=message):
            dkt.load(path)
    # A dtype other than float32, and offsets that point outside the data.
    write_raw(tmp_path / "f16.safetensors", {"a": {"dtype": "F16", "shape": [1], "data_offsets": [0, 2]}}, b"\0\0")
    with pytest.raises(ValueError, match="F16"):
        dkt.read_safetensors(tmp_path / "f16.safetensors")
    write_raw(tmp_path / "offsets.safetensors", {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8)
    with pytest.raises(ValueError, match="claims bytes"):
        dkt.read_safetensors(tmp_path / "offsets.safetensors")


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError):
        dkt.save(torch.nn.Linear(2, 2), tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="encoder"):
        dkt.model_config(encoder="resnet")
    with pytest.raises(ValueError, match="shared encoder"):
        dkt.DisentangleVAE(dkt.model_config(latents=11, encoder="shared"))


def test_a_run_without_a_model_file_needs_the_cli(tmp_path, monkeypatch):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    monkeypatch.delenv("DISENTANGLE_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="export-model"):
        dkt.load(run)


def test_a_run_is_loaded_through_the_cli(tmp_path):
    cli = os.environ.get("DISENTANGLE_BIN")
    if not cli:
        pytest.skip("DISENTANGLE_BIN not set (scripts/python-test.sh sets it)")
    import subprocess

    run = tmp_path / "run"
    subprocess.run(
        [cli, "train", "--out", str(run), "--dataset", "dsprites", "--encoder", "shared", "--latents", "4",
         "--steps", "2", "--batch-size", "4", "--summary-batches", "1", "--quiet"],
        check=True,
    )
    model = dkt.load(run)
    assert (run / "model.safetensors").is_file() and model.header["step"] == 2
    assert model.header["run"]["dataset"] == "dsprites" and model.latents == 4
    with torch.no_grad():
        assert not math.isnan(float(model.encode(torch.rand(1, 1, 64, 64))[0].sum()))
