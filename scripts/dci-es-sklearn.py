#!/usr/bin/env python3
"""DCI-ES explicitness and size written with scikit-learn, as an independent check of
`disentanglekit.dci_es` (the authors' `loss_capacity` code is not available here) and as its
speed peer.

The same estimator as crates/metrics/src/dci_es.rs, from its definition: per factor, the class
index standardized with the training rows; GradientBoostingRegressor(n_estimators=100,
learning_rate=0.1, max_depth=kappa) for each capacity kappa; test MSE; E_j = 1 - AULCC / Z with
AULCC the trapezoid area between the curve and its minimum up to the first capacity reaching it
(within 1e-9 of the baseline) and Z = 1/2 (kappa_max - kappa_1)(baseline - minimum); E_j = 0
below 5 % informativeness.

    python scripts/dci-es-sklearn.py [ROWS] [ROUNDS]    # needs numpy, scikit-learn, disentanglekit

Prints both results per factor and the times of both, alternating, ROUNDS times.
"""

import sys
import time

import numpy as np
from sklearn.ensemble import GradientBoostingRegressor

import disentanglekit as dk

CAPACITIES = [1, 2, 3, 4, 5, 6, 7, 8]


def explicitness_from_curve(caps, losses, baseline):
    best = min(losses)
    if best >= baseline:
        return 0.0
    k = next(i for i, l in enumerate(losses) if l <= best + 1e-9 * abs(baseline))
    area = sum(0.5 * (caps[i + 1] - caps[i]) * ((losses[i] - best) + (losses[i + 1] - best)) for i in range(k))
    return 1.0 - area / (0.5 * (caps[-1] - caps[0]) * (baseline - best))


def dci_es_sklearn(codes, factors, num_train, capacities=CAPACITIES, min_informativeness=0.05):
    x_train, x_test = codes[:num_train], codes[num_train:]
    per_factor, informativeness, curves = [], [], []
    for j in range(factors.shape[1]):
        y = factors[:, j].astype(np.float64)
        mean, sd = y[:num_train].mean(), y[:num_train].std()
        y = (y - mean) / sd
        y_train, y_test = y[:num_train], y[num_train:]
        losses = []
        for depth in capacities:
            model = GradientBoostingRegressor(n_estimators=100, learning_rate=0.1, max_depth=depth, random_state=0)
            model.fit(x_train, y_train)
            losses.append(float(np.mean((model.predict(x_test) - y_test) ** 2)))
        baseline = float(np.mean(y_test**2))
        info = max(0.0, 1.0 - min(losses) / baseline)
        e = 0.0 if info < min_informativeness else explicitness_from_curve(capacities, losses, baseline)
        per_factor.append(e)
        informativeness.append(info)
        curves.append(losses)
    return {
        "explicitness": float(np.mean(per_factor)),
        "size": factors.shape[1] / codes.shape[1],
        "per_factor_explicitness": per_factor,
        "per_factor_informativeness": informativeness,
        "losses": curves,
    }


def arrays(rows, seed=0):
    """Five factors with dSprites' sizes; nine codes: four noisy factors, the fifth (orientation)
    only as a product with a random sign (which depth-1 trees cannot read), a rotation of two
    factors, two noise codes."""
    rng = np.random.default_rng(seed)
    sizes = [3, 6, 40, 32, 32]
    f = np.stack([rng.integers(0, s, rows) for s in sizes], axis=1)
    z = f / np.array(sizes) + 0.05 * rng.standard_normal(f.shape)
    sign = rng.choice([-1.0, 1.0], rows)
    extra = np.stack(
        [
            sign,
            sign * (z[:, 2] - 0.5),
            0.6 * z[:, 3] - 0.8 * z[:, 4],
            rng.standard_normal(rows),
            rng.standard_normal(rows),
        ],
        axis=1,
    )
    codes = np.concatenate([z[:, [0, 1, 3, 4]], extra], axis=1).astype(np.float32)
    return codes, f


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 15000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    codes, factors = arrays(rows)
    num_train = rows * 2 // 3
    for r in range(rounds):
        t0 = time.perf_counter()
        ref = dci_es_sklearn(codes, factors, num_train)
        t1 = time.perf_counter()
        ours = dk.dci_es(codes[:num_train], factors[:num_train], codes[num_train:], factors[num_train:], random_state=0)
        t2 = time.perf_counter()
        print(f"round {r + 1}: scikit-learn {t1 - t0:.2f} s, disentanglekit {t2 - t1:.3f} s, ratio {(t1 - t0) / (t2 - t1):.1f}x")
    print(f"explicitness  scikit-learn {ref['explicitness']:.6f}  ours {ours['explicitness']:.6f}")
    for j in range(factors.shape[1]):
        print(
            f"factor {j}: E {ref['per_factor_explicitness'][j]:.6f} vs {ours['per_factor_explicitness'][j]:.6f}; "
            f"informativeness {ref['per_factor_informativeness'][j]:.6f} vs {ours['per_factor_informativeness'][j]:.6f}; "
            f"largest loss difference {np.max(np.abs(np.array(ref['losses'][j]) - ours['losses'][j])):.2e}"
        )


if __name__ == "__main__":
    main()
