"""Drives scikit-learn's BayesianGaussianMixture from given initial responsibilities.

Usage: gmm_sklearn.py INPUT.json. INPUT holds "X" (N x D), "resp" (N x K), "iterations" and
optionally "prior" with any of alpha0, beta0, nu0, m0, w0_inv (absent: scikit-learn's defaults).
Runs _initialize(X, resp) (the M-step of the given responsibilities), then `iterations` sweeps
of _e_step, _m_step, _compute_lower_bound, exactly as BaseMixture.fit_predict does, and prints
one JSON object: weights, means, covariances, alpha, beta, nu and lower_bounds (one per sweep).
Used by tests/vi/gmm_test.cpp (GmmSklearn.*).
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.mixture import BayesianGaussianMixture


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    X = np.asarray(spec["X"], dtype=np.float64)
    resp = np.asarray(spec["resp"], dtype=np.float64)
    prior = spec.get("prior", {})
    bgm = BayesianGaussianMixture(
        n_components=resp.shape[1],
        covariance_type="full",
        weight_concentration_prior_type="dirichlet_distribution",
        weight_concentration_prior=prior.get("alpha0"),
        mean_precision_prior=prior.get("beta0"),
        degrees_of_freedom_prior=prior.get("nu0"),
        mean_prior=prior.get("m0"),
        covariance_prior=prior.get("w0_inv"),
        reg_covar=0.0,
    )
    bgm._check_parameters(X)
    bgm._initialize(X, resp)
    lower_bounds = []
    for _ in range(spec["iterations"]):
        log_prob_norm, log_resp = bgm._e_step(X)
        bgm._m_step(X, log_resp)
        lower_bounds.append(float(bgm._compute_lower_bound(log_resp, log_prob_norm)))
    bgm._set_parameters(bgm._get_parameters())  # fills weights_
    print(json.dumps({
        "sklearn": sklearn.__version__,
        "weights": bgm.weights_.tolist(),
        "means": bgm.means_.tolist(),
        "covariances": bgm.covariances_.tolist(),
        "alpha": bgm.weight_concentration_.tolist(),
        "beta": bgm.mean_precision_.tolist(),
        "nu": bgm.degrees_of_freedom_.tolist(),
        "lower_bounds": lower_bounds,
    }))


if __name__ == "__main__":
    main()
