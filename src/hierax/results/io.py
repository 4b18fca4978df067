"""Save a fit as netCDF with its specification in JSON attributes (never pickle)."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from hierax.errors import HieraxError
from hierax.results import _arviz


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
    idata = _arviz.with_attrs(fit.idata, "posterior", fit_attributes(fit))
    if fit.data is not None and "constant_data" not in idata:
        idata = _arviz.with_groups(idata, constant_data=_columns_dataset(fit.data))
    tmp = path.with_name(path.name + ".partial")
    _arviz.to_netcdf(idata, tmp)
    tmp.replace(path)
    return path


def load(path):
    """Read a saved fit's draws (InferenceData, or DataTree with ArviZ 1.x); provenance is in
    ``idata.posterior.attrs``."""
    path = Path(path)
    if not path.exists():
        raise HieraxError(f"no saved fit at {path}")
    return _arviz.from_netcdf(path)


_PRIOR_TEXT = re.compile(r"^(\w+)\((.*)\)$")


def _columns_dataset(frame: pd.DataFrame):
    """The formula's columns as ArviZ's ``constant_data`` group (text columns as strings)."""
    import xarray as xr

    columns = {}
    for name in frame.columns:
        values = frame[name].to_numpy()
        if values.dtype.kind not in "biuf":
            values = frame[name].astype(str).to_numpy(dtype=object)
        columns[str(name)] = xr.DataArray(values, dims=("row",))
    return xr.Dataset(columns, coords={"row": np.arange(len(frame))})


def restore(path, data=None):
    """A saved fit as a :class:`~hierax.FitResult` again.

    The formula, family, link, priors and settings come from the file, and so do the data (the
    formula's columns, in its ``constant_data`` group), unless ``data`` is given. Data other
    than the fit's are refused when they give other groups or another number of rows.
    """
    from hierax.design import build_design
    from hierax.engines.nuts import NUTSConfig
    from hierax.formula import parse_formula
    from hierax.model import specify
    from hierax.results.diagnostics import nuts_warnings
    from hierax.results.fitresult import FitResult
    from hierax.results.tables import summary

    idata = load(path)
    attrs = idata.posterior.attrs
    if "hierax_formula" not in attrs:
        raise HieraxError(f"{path} was not written by hierax (no hierax_formula attribute)")
    if data is None:
        if "constant_data" not in idata:
            raise HieraxError(f"{path} holds no data (saved by an older hierax); pass the data it was fitted to")
        data = _arviz.group(idata, "constant_data").to_dataframe().reset_index(drop=True)
    priors = _user_priors(pd.read_json(io.StringIO(attrs["hierax_priors"]), orient="records"))
    design = build_design(parse_formula(attrs["hierax_formula"]), data)
    spec = specify(design, attrs["hierax_family"], attrs["hierax_link"], priors or None)
    _check_same_data(spec, idata, path)
    config = json.loads(attrs["hierax_config"])
    config["escalate"] = tuple(config.get("escalate", ()))
    config = NUTSConfig(**config)
    parameterisation = json.loads(attrs["hierax_parameterisation"])
    messages = nuts_warnings(idata, config.max_tree_depth, summary(idata, spec), parameterisation)
    return FitResult(attrs["hierax_formula"], attrs["hierax_family"], attrs["hierax_link"], attrs["hierax_method"],
                     spec, design.info, idata, config, int(attrs["hierax_seed"]), messages, {},
                     json.loads(attrs["hierax_versions"]), parameterisation,
                     json.loads(attrs["hierax_adaptation"]), data)


def _user_priors(table: pd.DataFrame) -> dict:
    """The priors the user set, keyed as ``hx.fit`` takes them, from the saved prior table."""
    from hierax.model import priors as prior_classes

    out = {}
    for _, row in table[table["source"] == "user"].iterrows():
        group, coef = (str(v) if v not in (None, "") and not pd.isna(v) else "" for v in (row["group"], row["coef"]))
        key = {"Intercept": "Intercept", "b": f"b[{coef}]", "sd": f"sd[{group}][{coef}]" if coef else f"sd[{group}]",
               "cor": f"cor[{group}]", "sigma": "sigma"}[row["class"]]
        match = _PRIOR_TEXT.match(str(row["prior"]))
        kind = getattr(prior_classes, match.group(1), None) if match else None
        if kind is None or not isinstance(kind, type) or not issubclass(kind, prior_classes.Prior):
            raise HieraxError(f"cannot read the saved prior {row['prior']!r}")
        out[key] = kind(*[float(a) for a in match.group(2).split(",") if a.strip()])
    return out


def _check_same_data(spec, idata, path) -> None:
    observed = idata.observed_data
    rows = next(iter(observed.data_vars.values())).shape[0]
    if rows != spec.num_obs:
        raise HieraxError(f"the data have {spec.num_obs} rows, the fit saved in {path} had {rows}; pass the data it "
                          "was fitted to")
    for block in spec.blocks:
        saved = [str(v) for v in idata.posterior[f"{block.name}__level"].values]
        if saved != list(block.levels):
            raise HieraxError(f"the data's levels of {block.group!r} differ from those of the fit saved in {path}")
