"""PyTorch modules of disentangle's models, loaded from and saved to safetensors files.

``disentangle export-model RUN --out model.safetensors`` writes a trained run's encoder, decoder
(and FactorVAE discriminator) in PyTorch's layouts; :func:`load` turns such a file -- or a run
directory -- into a :class:`DisentangleVAE` on your device. A model of the same architecture that
you train in PyTorch goes the other way with :func:`save`, then ``disentangle import-model`` makes
it a run directory that ``evaluate``, ``export-codes``, ``visualize`` and studies accept.

This module needs only PyTorch (``pip install torch``), which the package itself does not depend
on; it is imported only when used (``import disentanglekit.torch``). The file format is
safetensors, read and written here directly (no ``safetensors`` package needed): float32
tensors named by the modules' attribute paths, and one metadata entry ``disentangle`` holding
the model configuration as JSON.

>>> from disentanglekit.torch import load            # doctest: +SKIP
>>> model = load("runs/split-fvae", device="cuda")   # doctest: +SKIP
>>> mu, logvar = model.encode(images)                 # images: (B, C, 64, 64) in [0, 1]
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as error:  # pragma: no cover - depends on the user's environment
    raise ImportError("disentanglekit.torch needs PyTorch: pip install torch") from error

FORMAT = "disentangle-vae"
FORMAT_VERSION = 1
METADATA_KEY = "disentangle"
# The largest header we read (a model's has ~100 entries; this bounds a lying length field).
_MAX_HEADER_BYTES = 100 * 1024 * 1024

__all__ = [
    "DisentangleVAE",
    "Discriminator",
    "load",
    "save",
    "model_config",
    "read_safetensors",
    "write_safetensors",
]


# ----------------------------------------------------------------------------------------------
# Configuration


def model_config(
    latents: int = 10,
    channels: int = 1,
    encoder: str = "conv",
    noise: str = "independent",
    rho: float = 0.9,
    objective: str = "vae",
    branch_channels: int = 16,
    branch_hidden: int = 64,
    **objective_params: float,
) -> Dict[str, Any]:
    """The model configuration dict (as in a run's ``config.toml`` ``[model]``).

    ``encoder`` is ``conv``, ``conv-k4``, ``split`` or ``shared``; ``noise`` is ``independent`` or
    ``correlated`` (with ``rho``); ``objective`` is one of disentangle's objectives with its
    parameters as keywords (``beta=4.0``, ``gamma=30.0``, ...). ``vae`` defaults to ``beta=1``,
    ``factor-vae`` to ``gamma=30``.
    """
    if encoder in ("conv", "conv-k4"):
        enc: Dict[str, Any] = {"kind": "conv", "k4_all": encoder == "conv-k4"}
    elif encoder == "split":
        enc = {"kind": "split", "branch_channels": int(branch_channels), "branch_hidden": int(branch_hidden)}
    elif encoder == "shared":
        enc = {"kind": "shared"}
    else:
        raise ValueError(f"encoder {encoder!r}: one of conv, conv-k4, split, shared")
    if noise == "independent":
        nz: Dict[str, Any] = {"kind": "independent"}
    elif noise == "correlated":
        nz = {"kind": "correlated", "rho": float(rho)}
    else:
        raise ValueError(f"noise {noise!r}: independent or correlated")
    defaults = {"vae": {"beta": 1.0}, "factor-vae": {"gamma": 30.0}}
    params = dict(defaults.get(objective, {}))
    params.update({k: float(v) for k, v in objective_params.items()})
    return {
        "latents": int(latents),
        "channels": int(channels),
        "encoder": enc,
        "noise": nz,
        "objective": {"kind": objective, **params},
    }


def _shared_grid(latents: int) -> Tuple[int, int]:
    """The r x c layout (r <= c <= 8, r * c = J) of the shared encoder's latents."""
    for r in range(8, 0, -1):
        if r * r <= latents and latents % r == 0 and latents // r <= 8:
            return r, latents // r
    raise ValueError(f"the shared encoder needs J = r*c with r, c <= 8; {latents} has no such layout")


# ----------------------------------------------------------------------------------------------
# Networks (attribute paths = tensor names in the file)


def _halving_conv(cin: int, cout: int, k4: bool) -> nn.Conv2d:
    # k4 s2 p1 or k2 s2 p0: both halve the size.
    return nn.Conv2d(cin, cout, 4 if k4 else 2, stride=2, padding=1 if k4 else 0)


class SharedConvs(nn.Module):
    """The first three convolutions of every encoder: C x 64 x 64 -> 64 x 8 x 8, ReLU each."""

    def __init__(self, channels: int, k4_third: bool):
        super().__init__()
        self.conv1 = _halving_conv(channels, 32, True)
        self.conv2 = _halving_conv(32, 32, True)
        self.conv3 = _halving_conv(32, 64, k4_third)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv3(F.relu(self.conv2(F.relu(self.conv1(x))))))


class ConvEncoder(nn.Module):
    """The reference encoder: four convs, dense 256, then dense heads for mu and log sigma^2."""

    def __init__(self, channels: int, latents: int, k4_all: bool):
        super().__init__()
        self.convs = SharedConvs(channels, k4_all)
        self.conv4 = _halving_conv(64, 64, k4_all)
        self.dense = nn.Linear(1024, 256)
        self.mu = nn.Linear(256, latents)
        self.logvar = nn.Linear(256, latents)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.conv4(self.convs(x))).flatten(1)
        h = F.relu(self.dense(h))
        return self.mu(h), self.logvar(h)


class SplitEncoder(nn.Module):
    """The paper's split encoder: shared convs, then per latent its own conv and two dense layers.

    The J branch convs are one conv with J * C_b output channels (channels j*C_b ... (j+1)*C_b - 1
    are branch j's), and the branches' dense layers are batched weights [J, in, out] with biases
    [J, 1, out] (``torch.baddbmm``), exactly as the file stores them.
    """

    def __init__(self, channels: int, latents: int, branch_channels: int, branch_hidden: int):
        super().__init__()
        self.latents, self.branch_channels = latents, branch_channels
        features = branch_channels * 16
        self.convs = SharedConvs(channels, False)
        self.branch_conv = _halving_conv(64, latents * branch_channels, False)
        self.dense1_weight = nn.Parameter(torch.empty(latents, features, branch_hidden))
        self.dense1_bias = nn.Parameter(torch.zeros(latents, 1, branch_hidden))
        self.dense2_weight = nn.Parameter(torch.empty(latents, branch_hidden, 2))
        self.dense2_bias = nn.Parameter(torch.zeros(latents, 1, 2))
        # Glorot-uniform per branch, as a per-latent nn.Linear would be initialised in spirit.
        for w in (self.dense1_weight, self.dense2_weight):
            fan_in, fan_out = w.shape[1], w.shape[2]
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            nn.init.uniform_(w, -bound, bound)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        b = x.shape[0]
        h = F.relu(self.branch_conv(self.convs(x)))  # [B, J*C_b, 4, 4]
        h = h.reshape(b, self.latents, self.branch_channels * 16).transpose(0, 1)  # [J, B, F]
        h = F.relu(torch.baddbmm(self.dense1_bias, h, self.dense1_weight))  # [J, B, H]
        out = torch.baddbmm(self.dense2_bias, h, self.dense2_weight)  # [J, B, 2]
        return out[:, :, 0].transpose(0, 1), out[:, :, 1].transpose(0, 1)


class SharedEncoder(nn.Module):
    """The sharing-parameter ablation: one conv whose r x c outputs are the J latents."""

    def __init__(self, channels: int, latents: int):
        super().__init__()
        r, c = _shared_grid(latents)
        self.latents = latents
        self.convs = SharedConvs(channels, False)
        self.head = nn.Conv2d(64, 2, (9 - r, 9 - c))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out = self.head(self.convs(x)).reshape(x.shape[0], 2, self.latents)
        return out[:, 0], out[:, 1]


class Decoder(nn.Module):
    """Dense 256, dense 1024, then four transposed convs k4 s2 p1 (4 -> 64 pixels); logits out."""

    def __init__(self, latents: int, channels: int):
        super().__init__()
        self.dense1 = nn.Linear(latents, 256)
        self.dense2 = nn.Linear(256, 1024)
        self.deconv1 = nn.ConvTranspose2d(64, 64, 4, stride=2, padding=1)
        self.deconv2 = nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1)
        self.deconv3 = nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1)
        self.deconv4 = nn.ConvTranspose2d(32, channels, 4, stride=2, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.dense2(F.relu(self.dense1(z)))).reshape(z.shape[0], 64, 4, 4)
        h = F.relu(self.deconv1(h))
        h = F.relu(self.deconv2(h))
        h = F.relu(self.deconv3(h))
        return self.deconv4(h)


class Discriminator(nn.Module):
    """FactorVAE's discriminator: six dense layers of 1000 units (leaky ReLU 0.2), two logits."""

    def __init__(self, latents: int, width: int = 1000, depth: int = 6):
        super().__init__()
        dims = [latents] + [width] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(width, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            z = F.leaky_relu(layer(z), 0.2)
        return self.out(z)


class DisentangleVAE(nn.Module):
    """A disentangle model: ``encode``, ``decode``, ``forward`` as in training.

    ``config`` is the model configuration (:func:`model_config`, or a file's metadata). FactorVAE
    models carry their ``discriminator``; other objectives have ``discriminator = None``.
    """

    def __init__(self, config: Dict[str, Any]):
        super().__init__()
        self.config = json.loads(json.dumps(config))
        j, c = int(config["latents"]), int(config["channels"])
        enc = config["encoder"]
        kind = enc["kind"]
        if kind == "conv":
            self.encoder: nn.Module = ConvEncoder(c, j, bool(enc.get("k4_all", False)))
        elif kind == "split":
            self.encoder = SplitEncoder(c, j, int(enc.get("branch_channels", 16)), int(enc.get("branch_hidden", 64)))
        elif kind == "shared":
            self.encoder = SharedEncoder(c, j)
        else:
            raise ValueError(f"unknown encoder kind {kind!r}")
        self.decoder = Decoder(j, c)
        is_factor_vae = config["objective"]["kind"] == "factor-vae"
        self.discriminator: Optional[Discriminator] = Discriminator(j) if is_factor_vae else None

    @property
    def latents(self) -> int:
        return int(self.config["latents"])

    def encode(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Images (B, C, 64, 64) in [0, 1] -> (mu, log sigma^2), each (B, J)."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes (B, J) -> Bernoulli logits (B, C, 64, 64); ``torch.sigmoid`` gives the image."""
        return self.decoder(z)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The decoded posterior mean, as images in [0, 1] (what ``visualize`` shows)."""
        return torch.sigmoid(self.decode(self.encode(x)[0]))

    def sample_noise(self, batch: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Reparameterization noise (B, J): N(0, I), or N(0, (1 - rho) I + rho 11^T) when correlated."""
        device = next(self.parameters()).device
        eps = torch.randn(batch, self.latents, generator=generator, device=device)
        noise = self.config["noise"]
        if noise["kind"] == "correlated":
            rho = float(noise["rho"])
            shared = torch.randn(batch, 1, generator=generator, device=device)
            eps = math.sqrt(1.0 - rho) * eps + math.sqrt(rho) * shared
        return eps

    def forward(
        self, x: torch.Tensor, generator: Optional[torch.Generator] = None
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, mu, logvar, z) with z = mu + sigma * eps drawn from the model's noise."""
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * self.sample_noise(x.shape[0], generator).to(mu.dtype)
        return self.decode(z), mu, logvar, z

    def kl_divergence(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Per-sample KL(q(z|x) || N(0, I)) (B,), as disentangle computes it: for correlated
        noise q = N(mu, D Sigma D), which subtracts 1/2 log det Sigma."""
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
        noise = self.config["noise"]
        if noise["kind"] == "correlated":
            rho, j = float(noise["rho"]), self.latents
            kl = kl - 0.5 * ((j - 1) * math.log(1.0 - rho) + math.log(1.0 - rho + j * rho))
        return kl


# ----------------------------------------------------------------------------------------------
# The file


def read_safetensors(path: Union[str, os.PathLike]) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """(tensors, metadata) of a safetensors file of float32 tensors, checked as it is read."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 8:
        raise ValueError(f"{path}: {len(data)} bytes, too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER_BYTES or 8 + n > len(data):
        raise ValueError(f"{path}: the header claims {n} bytes, the file has {len(data) - 8} after the length")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: the header is not valid JSON: {error}") from error
    if not isinstance(header, dict):
        raise ValueError(f"{path}: the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    body = memoryview(data)[8 + n :]
    tensors: Dict[str, torch.Tensor] = {}
    for name, info in header.items():
        try:
            dtype, shape, (begin, end) = info["dtype"], [int(s) for s in info["shape"]], info["data_offsets"]
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: tensor {name!r} has a malformed entry {info!r}") from error
        if dtype != "F32":
            raise ValueError(f"{path}: tensor {name!r} is {dtype}; models are float32 (F32)")
        count = math.prod(shape)
        if not (0 <= begin <= end <= len(body)) or end - begin != 4 * count:
            raise ValueError(f"{path}: tensor {name!r} {shape} claims bytes {begin}..{end} of {len(body)}")
        values = torch.frombuffer(bytearray(body[begin:end]), dtype=torch.float32) if count else torch.empty(0)
        tensors[name] = values.reshape(shape)
    return tensors, metadata


def write_safetensors(path: Union[str, os.PathLike], tensors: Dict[str, torch.Tensor], metadata: Dict[str, str]) -> None:
    """Writes float32 tensors (sorted by name, as the Rust writer does) and string metadata,
    through a temporary file renamed into place."""
    path = Path(path)
    header: Dict[str, Any] = {"__metadata__": dict(metadata)}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu", torch.float32).contiguous()
        raw = t.numpy().astype("<f4", copy=False).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)
    os.replace(tmp, path)


def _header(metadata: Dict[str, str], path: Path) -> Dict[str, Any]:
    if METADATA_KEY not in metadata:
        raise ValueError(
            f"{path}: no {METADATA_KEY!r} metadata: not written by `disentangle export-model` or disentanglekit.torch.save"
        )
    header = json.loads(metadata[METADATA_KEY])
    if header.get("format") != FORMAT:
        raise ValueError(f"{path}: format {header.get('format')!r}, expected {FORMAT!r}")
    if header.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path}: layout version {header.get('version')}; this module reads version {FORMAT_VERSION}")
    return header


def _run_model_file(run_dir: Path) -> Path:
    """A run directory's model file: RUN/model.safetensors, written by the CLI if it is missing."""
    file = run_dir / "model.safetensors"
    latest = run_dir / "checkpoints" / "latest"
    if file.is_file() and (not latest.is_file() or file.stat().st_mtime >= latest.stat().st_mtime):
        return file
    cli = os.environ.get("DISENTANGLE_BIN") or shutil.which("disentangle")
    if cli is None:
        raise FileNotFoundError(
            f"{run_dir} has no up-to-date model.safetensors and the `disentangle` command is not on PATH "
            f"(or in $DISENTANGLE_BIN): run `disentangle export-model {run_dir} --out {file}`"
        )
    done = subprocess.run([cli, "export-model", str(run_dir), "--out", str(file)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"disentangle export-model {run_dir} failed: {done.stderr.strip()}")
    return file


def load(path_or_run: Union[str, os.PathLike], device: Union[str, torch.device, None] = None) -> DisentangleVAE:
    """A :class:`DisentangleVAE` from a model file, or from a run directory (its newest
    checkpoint, exported through the ``disentangle`` CLI into ``RUN/model.safetensors``).

    The module is in eval mode, on ``device`` (default CPU). Its ``header`` attribute holds the
    file's metadata (training configuration and step when it came from a run).
    """
    path = Path(path_or_run)
    if path.is_dir():
        path = _run_model_file(path)
    tensors, metadata = read_safetensors(path)
    header = _header(metadata, path)
    model = DisentangleVAE(header["model"])
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    if missing and all(k.startswith("discriminator.") for k in missing):
        raise ValueError(f"{path}: a FactorVAE model without its discriminator tensors")
    if missing:
        raise ValueError(f"{path}: missing tensors {missing[:5]}")
    extra = [k for k in tensors if k not in expected]
    if extra:
        raise ValueError(f"{path}: tensors the model of its metadata does not have: {extra[:5]}")
    for name, value in expected.items():
        if tuple(tensors[name].shape) != tuple(value.shape):
            raise ValueError(f"{path}: tensor {name!r} has shape {tuple(tensors[name].shape)}, the model needs {tuple(value.shape)}")
    model.load_state_dict(tensors)
    model.header = header
    return model.to(device if device is not None else "cpu").eval()


def save(
    module: DisentangleVAE,
    path: Union[str, os.PathLike],
    *,
    dataset: Optional[str] = None,
    steps: Optional[int] = None,
    seed: Optional[int] = None,
    **run: Any,
) -> None:
    """Writes ``module`` as a model file that ``disentangle import-model`` makes a run of.

    ``dataset`` (a name ``disentangle data info`` knows, or a path) and ``steps`` (training steps
    behind the weights) go into the file so the import needs no flags; further keywords are
    training-configuration fields (``batch_size``, ``learning_rate``, ...). A FactorVAE module
    is saved with its discriminator.
    """
    if not isinstance(module, DisentangleVAE):
        raise TypeError(f"save takes a DisentangleVAE, not {type(module).__name__}")
    header: Dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION, "model": module.config}
    previous = dict(getattr(module, "header", {}).get("run") or {})
    fields = dict(previous, **run)
    for key, value in (("dataset", dataset), ("steps", steps), ("seed", seed)):
        if value is not None:
            fields[key] = value
    if steps is not None:
        header["step"] = int(steps)
    elif "step" in getattr(module, "header", {}):
        header["step"] = module.header["step"]
    if fields:
        header["run"] = fields
    metadata = {METADATA_KEY: json.dumps(header, separators=(",", ":"))}
    write_safetensors(path, module.state_dict(), metadata)
