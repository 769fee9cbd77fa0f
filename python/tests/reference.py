"""Independent NumPy / scikit-learn computations of the metrics, written from their published
definitions (disentanglement_lib's estimators), to test disentanglekit against. Arrays here are
(N, D) codes and (N, K) factors."""

import numpy as np
from sklearn.metrics import mutual_info_score, roc_auc_score


def discretize(codes, num_bins=20):
    """Each column into num_bins equal-width bins over its own range, labels 1..num_bins."""
    out = np.zeros(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram(codes[:, j], num_bins)[1][:-1]
        out[:, j] = np.digitize(codes[:, j], edges)
    return out


def mutual_info(discrete_codes, factors):
    d, k = discrete_codes.shape[1], factors.shape[1]
    m = np.zeros((d, k))
    for i in range(d):
        for j in range(k):
            m[i, j] = mutual_info_score(factors[:, j], discrete_codes[:, i])
    return m


def mig(codes, factors, num_bins=20):
    m = mutual_info(discretize(codes, num_bins), factors)
    entropy = np.array([mutual_info_score(factors[:, j], factors[:, j]) for j in range(factors.shape[1])])
    top = np.sort(m, axis=0)[::-1]
    return float(np.mean((top[0] - top[1]) / entropy))


def modularity(codes, factors, num_bins=20):
    m = mutual_info(discretize(codes, num_bins), factors)
    squared = m**2
    best = np.max(squared, axis=1)
    numerator = np.sum(squared, axis=1) - best
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = numerator / (best * (squared.shape[1] - 1))
    score = 1.0 - delta
    score[best == 0] = 0.0
    return float(np.mean(score))


def unsupervised(codes, num_bins=20):
    from scipy.linalg import sqrtm

    cov = np.cov(codes.astype(np.float64).T)
    tc = 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])
    root = sqrtm(cov * np.expand_dims(np.diag(cov), axis=1))
    wasserstein = 2 * np.trace(cov) - 2 * np.trace(root)
    discrete = discretize(codes, num_bins)
    mi = mutual_info(discrete, discrete)
    np.fill_diagonal(mi, 0)
    d = codes.shape[1]
    return {
        "gaussian_total_correlation": float(tc),
        "gaussian_wasserstein_correlation": float(np.real(wasserstein)),
        "gaussian_wasserstein_correlation_norm": float(np.real(wasserstein) / np.sum(np.diag(cov))),
        "mutual_info_score": float(np.sum(mi) / (d**2 - d)),
    }


def explicitness(codes_train, factors_train, codes_test, factors_test):
    """Mean over factors of the macro one-vs-rest ROC AUC of a logistic regression (C = 1,
    multinomial for 3+ classes), on codes standardized with the training rows (ddof 0)."""
    from sklearn.linear_model import LogisticRegression

    mean, std = codes_train.mean(axis=0), codes_train.std(axis=0)
    std[std == 0] = 1.0
    xtr, xte = (codes_train - mean) / std, (codes_test - mean) / std
    train, test = [], []
    for j in range(factors_train.shape[1]):
        clf = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(xtr, factors_train[:, j])
        for x, y, out in ((xtr, factors_train[:, j], train), (xte, factors_test[:, j], test)):
            p = clf.predict_proba(x)
            aucs = [roc_auc_score(y == c, p[:, i]) for i, c in enumerate(clf.classes_) if 0 < np.sum(y == c) < len(y)]
            out.append(np.mean(aucs))
    return float(np.mean(train)), float(np.mean(test))


def dci(codes_train, factors_train, codes_test, factors_test):
    """Importance matrix from gradient-boosted trees (scikit-learn's defaults), then
    disentanglement and completeness from its entropies, informativeness = accuracy."""
    from sklearn.ensemble import GradientBoostingClassifier

    d, k = codes_train.shape[1], factors_train.shape[1]
    importance = np.zeros((d, k))
    acc_train, acc_test = [], []
    for j in range(k):
        clf = GradientBoostingClassifier(random_state=0).fit(codes_train, factors_train[:, j])
        importance[:, j] = np.abs(clf.feature_importances_)
        acc_train.append(np.mean(clf.predict(codes_train) == factors_train[:, j]))
        acc_test.append(np.mean(clf.predict(codes_test) == factors_test[:, j]))

    from scipy.stats import entropy

    # Entropy of each column's normalized distribution, in base = its length (+1e-11 as the reference).
    per_code = 1.0 - entropy(importance.T + 1e-11, base=k)
    code_weight = importance.sum(axis=1) / importance.sum()
    per_factor = 1.0 - entropy(importance + 1e-11, base=d)
    factor_weight = importance.sum(axis=0) / importance.sum()
    return {
        "disentanglement": float(np.sum(per_code * code_weight)),
        "completeness": float(np.sum(per_factor * factor_weight)),
        "informativeness_train": float(np.mean(acc_train)),
        "informativeness_test": float(np.mean(acc_test)),
        "importance_matrix": importance,
    }


def sap(codes_train, factors_train, codes_test, factors_test):
    from sklearn.svm import LinearSVC

    d, k = codes_train.shape[1], factors_train.shape[1]
    scores = np.zeros((d, k))
    for i in range(d):
        for j in range(k):
            clf = LinearSVC(C=0.01, class_weight="balanced", max_iter=100_000, tol=1e-8)
            clf.fit(codes_train[:, i : i + 1], factors_train[:, j])
            scores[i, j] = np.mean(clf.predict(codes_test[:, i : i + 1]) == factors_test[:, j])
    top = np.sort(scores, axis=0)[::-1]
    return float(np.mean(top[0] - top[1])), scores


def factor_vae(data, encode, rng, batch_size=64, num_train=1000, num_eval=500, num_variance_estimate=5000):
    """disentanglement_lib's FactorVAE score, on our dataset's sampling methods."""
    sizes = data.factors_num_values
    k = len(sizes)

    def sample_factors(n):
        return np.stack([rng.integers(0, s, size=n) for s in sizes], axis=1)

    codes = encode(data.sample_observations_from_factors(sample_factors(num_variance_estimate), 1))
    variances = np.var(codes, axis=0, ddof=1)
    active = (variances > 0) & (np.sqrt(variances) >= 0.05)

    def votes(n):
        out = np.zeros((k, int(active.sum())), dtype=np.int64)
        for _ in range(n):
            f = rng.integers(0, k)
            factors = sample_factors(batch_size)
            factors[:, f] = factors[0, f]
            z = encode(data.sample_observations_from_factors(factors, 1))
            v = np.var(z, axis=0, ddof=1)
            out[f, np.argmin(v[active] / variances[active])] += 1
        return out

    train, test = votes(num_train), votes(num_eval)
    classifier = np.argmax(train, axis=0)
    return float(np.sum(test[classifier, np.arange(test.shape[1])]) / np.sum(test))


def mig_continuous(mean, logvar, factors, rng):
    """Chen et al.'s MIG: one z_n ~ q(z|x_n) per sample; H(z_j) and H(z_j | v_k) from the
    posterior mixtures (all samples, and the samples of v_k's class); normalized by ln(#classes)."""
    mean, logvar = mean.astype(np.float64), logvar.astype(np.float64)
    n, d = mean.shape
    z = mean + np.exp(0.5 * logvar) * rng.standard_normal((n, d))

    def log_density(zj, mu, lv):  # (n_z,) against mixture components (n_c,)
        return -0.5 * (np.log(2 * np.pi) + lv[None, :] + (zj[:, None] - mu[None, :]) ** 2 / np.exp(lv)[None, :])

    def log_mixture(zj, mu, lv):
        a = log_density(zj, mu, lv)
        top = a.max(axis=1, keepdims=True)
        return (top + np.log(np.mean(np.exp(a - top), axis=1, keepdims=True)))[:, 0]

    gaps = []
    for k in range(factors.shape[1]):
        mi = np.zeros(d)
        for j in range(d):
            h = -np.mean(log_mixture(z[:, j], mean[:, j], logvar[:, j]))
            h_cond = 0.0
            for c in np.unique(factors[:, k]):
                rows = factors[:, k] == c
                h_cond -= np.sum(log_mixture(z[rows, j], mean[rows, j], logvar[rows, j]))
            mi[j] = max(h - h_cond / n, 0.0)
        top = np.sort(mi)[::-1]
        gaps.append((top[0] - top[1]) / np.log(len(np.unique(factors[:, k]))))
    return float(np.mean(gaps))
