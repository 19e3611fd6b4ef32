"""MCMC convergence diagnostics and posterior export, through ArviZ.

ArviZ computes the rank-normalised split R-hat and the bulk / tail effective sample sizes of Vehtari
et al. 2021 (Bayesian Analysis 16:667); written here they would be a copy of a kept library. Each
emcee walker is read as one chain, as ArviZ's own `from_emcee` does. ArviZ (0.x, pinned `<1` in the
`fit` extra: 1.0 splits the package) is imported on first use only.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

#: R-hat above this says the walkers have not mixed (Vehtari et al. 2021 recommend 1.01)
RHAT_LIMIT = 1.01
#: bulk ESS below this is too few draws for stable 5th/95th percentiles (Vehtari et al. 2021: 100 per chain
#: of 4 chains, i.e. 400)
ESS_MIN = 400


def _arviz():
    from nanocloak.errors import require

    return require("arviz", "fit")


def inference_data(chain: np.ndarray, burn: int, labels: list[str], log_prob: np.ndarray | None = None):
    """An ArviZ InferenceData of the kept draws: chain (steps, walkers, ndim) -> (walker, draw) per parameter."""
    az = _arviz()
    kept = np.asarray(chain)[burn:]
    posterior = {label: kept[:, :, i].T for i, label in enumerate(labels)}
    stats = None if log_prob is None else {"lp": np.asarray(log_prob)[burn:].T}
    return az.from_dict(posterior=posterior, sample_stats=stats)


def convergence(chain: np.ndarray, burn: int, labels: list[str]) -> dict[str, dict[str, float]]:
    """Per parameter: r_hat (rank-normalised split R-hat), ess_bulk and ess_tail (draws)."""
    az = _arviz()
    data = inference_data(chain, burn, labels)
    r_hat, bulk, tail = az.rhat(data), az.ess(data, method="bulk"), az.ess(data, method="tail")
    return {label: {"r_hat": float(r_hat[label]), "ess_bulk": float(bulk[label]), "ess_tail": float(tail[label])}
            for label in labels}


def convergence_warnings(diagnostics: dict[str, dict[str, float]]) -> list[str]:
    """Plain sentences for the parameters that fail R-hat <= 1.01 or bulk ESS >= 400."""
    warnings = []
    unmixed = [f"{k} {v['r_hat']:.3f}" for k, v in diagnostics.items()
               if not math.isfinite(v["r_hat"]) or v["r_hat"] > RHAT_LIMIT]
    if unmixed:
        warnings.append(f"R-hat above {RHAT_LIMIT} ({', '.join(unmixed)}): the walkers disagree; run more --steps")
    few = [f"{k} {v['ess_bulk']:.0f}" for k, v in diagnostics.items()
           if not math.isfinite(v["ess_bulk"]) or v["ess_bulk"] < ESS_MIN]
    if few:
        warnings.append(f"bulk effective sample size under {ESS_MIN} ({', '.join(few)}): percentiles are noisy; "
                        "run more --steps or --walkers")
    return warnings


def write_netcdf(chain: np.ndarray, burn: int, labels: list[str], log_prob: np.ndarray | None, path: Path) -> Path:
    """The kept posterior draws as ArviZ NetCDF (open with `arviz.from_netcdf`)."""
    inference_data(chain, burn, labels, log_prob).to_netcdf(str(path))
    return path
