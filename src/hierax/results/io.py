"""Save a fit as netCDF with its specification in JSON attributes (never pickle)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import arviz as az

from hierax.errors import HieraxError


def fit_attributes(fit) -> dict:
    """Provenance stored beside the draws: formula, family, priors, engine settings, seed, versions,
    and how each group's levels were parameterised (needed to read the draws' coordinates)."""
    return {
        "hierax_formula": fit.formula,
        "hierax_family": fit.family,
        "hierax_link": fit.link,
        "hierax_method": fit.method,
        "hierax_seed": int(fit.seed),
        "hierax_config": json.dumps(dataclasses.asdict(fit.config)),
        "hierax_priors": fit.priors.to_frame().to_json(orient="records"),
        "hierax_versions": json.dumps(fit.versions),
        "hierax_parameterisation": json.dumps(fit.parameterisation),
        "hierax_adaptation": json.dumps(fit.adaptation),
    }


def save(fit, path, overwrite: bool = False) -> Path:
    """Write ``fit.idata`` to ``path`` (netCDF). An existing file is kept unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise HieraxError(f"{path} already exists; choose another name or pass overwrite=True (--force)")
    if not path.parent.exists():
        raise HieraxError(f"folder {path.parent} does not exist")
    idata = fit.idata.copy()
    idata.posterior.attrs.update(fit_attributes(fit))
    tmp = path.with_name(path.name + ".partial")
    idata.to_netcdf(str(tmp))
    tmp.replace(path)
    return path


def load(path) -> az.InferenceData:
    """Read a saved fit's InferenceData; provenance is in ``idata.posterior.attrs``."""
    path = Path(path)
    if not path.exists():
        raise HieraxError(f"no saved fit at {path}")
    return az.from_netcdf(str(path))
