"""Save a fit as netCDF with its specification in JSON attributes (never pickle), and read it back.

Two kinds of fit are saved. A NUTS fit is its ArviZ InferenceData (``posterior``, ...), the
provenance in the posterior's attributes. A REML/ML/Laplace fit has no draws: its file holds the
engine's estimates (theta, beta, their covariance, each level's conditional modes and variances,
the optimiser's record) in a ``mixed_fit`` group, so that restoring it computes nothing. Both
keep the formula's columns in a ``constant_data`` group, from which the design is rebuilt.

Every file is written to ``NAME.partial`` and renamed when complete, so an interrupted or failed
save never leaves a damaged file under the name asked for, nor replaces a good one. Reading
checks what the file is before using it, so that a CSV, an empty or truncated file or another
program's netCDF file is named as such (a :class:`~hierax.errors.DataError`), not a traceback.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from hierax.errors import DataError, HieraxError
from hierax.results import _arviz
from hierax.model import layout

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MIXED_GROUP = "mixed_fit"
SAVE_HINT = "save a fit with `hierax fit ... --out FIT.nc` (or hierax.results.io.save) and pass that file"


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
        "hierax_interrupted": int(bool(getattr(fit, "interrupted", False))),
    }


def save(fit, path, overwrite: bool = False, data=None) -> Path:
    """Write a fit to ``path`` (netCDF). An existing file is kept unless ``overwrite``.

    Parameters
    ----------
    fit : a NUTS :class:`~hierax.FitResult`, or a REML/ML/Laplace :class:`~hierax.MixedFit`.
    path : the file to write.
    overwrite : replace an existing file.
    data : the data the fit was made from, saved (the formula's columns) so that the file restores
        alone. Fits made by ``hx.fit`` carry their own; give it only for a fit that has none.

    Raises
    ------
    DataError
        Where ``path`` exists (without ``overwrite``), is a folder, or is in a folder that does
        not exist; HieraxError for a posterior mode, which has nothing to save.
    """
    if getattr(fit, "submodels", ()):
        raise HieraxError("saving a fit with latent predictors (mi(x), me(x, sdx)) is not available yet; keep its "
                          "posterior with arviz: fit.idata.to_netcdf(path), and each predictor model's "
                          "fit.submodels[k].idata likewise")
    if fit.spec.rows_elsewhere is not None:
        raise HieraxError("saving a fit of out-of-core data (a Dask frame or Parquet files) is not available yet: a "
                          "saved fit restores from its data's columns, which these fits do not hold; keep the "
                          "tables (fit.summary(), fit.ranef()) with pandas, or refit from the files")
    path = check_target(Path(path), overwrite)
    if fit.method == "map":
        raise HieraxError("a posterior mode (method='map') has no draws to save; fit with method='nuts' (or "
                          "'reml' / 'laplace') to save a fit")
    if fit.has_draws:
        write_atomic(path, lambda partial: _arviz.to_netcdf(_draws_idata(fit), partial))
    else:
        columns = _formula_columns(fit.formula, data if data is not None else getattr(fit, "data", None))
        write_atomic(path, lambda partial: _write_mixed(fit, columns, partial))
    return path


def check_target(path: Path, overwrite: bool, example: str = "fit.nc") -> Path:
    """Refuse, before any work, an output path that is a folder, taken (without ``overwrite``), or
    in a folder that does not exist; ``example`` is the file name the message suggests."""
    if path.is_dir():
        raise DataError(f"{path} is a folder; give a file name in it, such as {path / example}")
    if path.exists() and not overwrite:
        raise DataError(f"{path} already exists; choose another name or pass overwrite=True (--force)")
    if not path.parent.is_dir():
        raise DataError(f"the folder {path.parent} does not exist; create it first or choose another folder")
    return path


def write_atomic(path: Path, write) -> None:
    """``write(partial)`` then rename to ``path``; the partial file is removed if anything fails."""
    partial = path.with_name(path.name + ".partial")
    try:
        write(partial)
        partial.replace(path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise DataError(f"cannot write {path} ({error.strerror or error}); check the free space and that the "
                        "folder is writable") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _draws_idata(fit):
    idata = _arviz.with_attrs(fit.idata, "posterior", fit_attributes(fit))
    if fit.data is not None and "constant_data" not in idata:
        idata = _arviz.with_groups(idata, constant_data=_columns_dataset(fit.data))
    return idata


def load(path):
    """Read a saved NUTS fit's draws (InferenceData, or DataTree with ArviZ 1.x); provenance is in
    ``idata.posterior.attrs``.

    Raises
    ------
    DataError
        Where ``path`` is not a hierax fit with draws (saying what it is instead).
    """
    path = Path(path)
    groups = _fit_groups(path)
    if "posterior" not in groups:
        raise DataError(f"{path} holds a REML/ML/Laplace fit, which has no draws; use restore({str(path)!r})")
    return _arviz.from_netcdf(path)


def _fit_groups(path: Path) -> list[str]:
    """The netCDF groups of a file that is a hierax fit, or a DataError saying what it is instead."""
    if not path.exists():
        raise DataError(f"no saved fit at {path}; check the path, or {SAVE_HINT}")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a saved fit; pass the .nc file in it, or {SAVE_HINT}")
    with open(path, "rb") as handle:
        head = handle.read(512)
    if not head:
        raise DataError(f"{path} is empty, not a saved fit (an interrupted copy?); {SAVE_HINT}")
    if not head.startswith(HDF5_SIGNATURE):
        what = "a text file (data? pass data with --data)" if _is_text(head) else "not a netCDF file"
        raise DataError(f"{path} is {what}, not a saved hierax fit; {SAVE_HINT}")
    groups = _netcdf_groups(path)
    if "posterior" not in groups and MIXED_GROUP not in groups:
        raise DataError(f"{path} is a netCDF file but not a hierax fit (groups: {', '.join(groups) or 'none'}); "
                        f"{SAVE_HINT}")
    return groups


def _netcdf_groups(path: Path) -> list[str]:
    import h5netcdf

    try:
        with h5netcdf.File(str(path), "r") as handle:
            return list(handle.groups)
    except (OSError, ValueError) as error:
        raise DataError(f"{path} is damaged or incomplete ({str(error).splitlines()[0]}); {SAVE_HINT}") from None


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in head


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


def _formula_columns(formula: str, data):
    """The columns of ``data`` that ``formula`` names, or None without data."""
    if data is None:
        return None
    from hierax.design import as_pandas
    from hierax.formula import as_bf

    return as_pandas(data)[list(as_bf(formula).variables)].copy()


def restore(path, data=None):
    """A saved fit as a :class:`~hierax.FitResult` (NUTS) or :class:`~hierax.MixedFit` again.

    The formula, family, link, priors and settings come from the file, and so do the data (the
    formula's columns, in its ``constant_data`` group), unless ``data`` is given. Data other
    than the fit's are refused when they give other groups or another number of rows.

    Raises
    ------
    DataError
        Where ``path`` is missing, a folder, empty, damaged, not netCDF or not a hierax fit, and
        where ``data`` do not match the fit's.

    Examples
    --------
    >>> fit = restore("fit.nc")          # doctest: +SKIP
    """
    path = Path(path)
    groups = _fit_groups(path)
    if MIXED_GROUP in groups:
        return _restore_mixed(path, groups, data)
    return _restore_draws(path, data)


def _restore_draws(path: Path, data):
    from hierax.engines.settings import NUTSConfig
    from hierax.results.diagnostics import nuts_warnings
    from hierax.results.fitresult import FitResult
    from hierax.results.tables import summary

    idata = load(path)
    attrs = _hierax_attributes(idata.posterior.attrs, path, DRAWS_REQUIRED)
    if data is None:
        data = _saved_columns(_arviz.group_names(idata), lambda: _arviz.group(idata, "constant_data"), path)
    spec, design = _spec(attrs, data, _user_priors(pd.read_json(io.StringIO(attrs["hierax_priors"]),
                                                               orient="records")))
    rows = next(iter(idata.observed_data.data_vars.values())).shape[0]
    _check_same_data(spec, rows, [idata.posterior[layout.level_dim(block)].values for block in spec.blocks], path)
    config = json.loads(attrs["hierax_config"])
    config["escalate"] = tuple(config.get("escalate", ()))
    config = NUTSConfig(**config)
    parameterisation = json.loads(attrs["hierax_parameterisation"])
    messages = nuts_warnings(idata, config.max_tree_depth, summary(idata, spec), parameterisation)
    return FitResult(attrs["hierax_formula"], attrs["hierax_family"], attrs["hierax_link"], attrs["hierax_method"],
                     spec, design.info, idata, config, int(attrs["hierax_seed"]), messages, {},
                     json.loads(attrs["hierax_versions"]), parameterisation,
                     json.loads(attrs["hierax_adaptation"]), data,
                     interrupted=bool(int(attrs.get("hierax_interrupted", 0))))


REQUIRED = ("hierax_formula", "hierax_family", "hierax_link", "hierax_method", "hierax_versions")
DRAWS_REQUIRED = REQUIRED + ("hierax_seed", "hierax_config", "hierax_priors", "hierax_parameterisation",
                             "hierax_adaptation")
MIXED_REQUIRED = REQUIRED + ("hierax_output", "hierax_output_type", "hierax_num_obs", "hierax_levels",
                             "hierax_warnings", "hierax_timing")


def _hierax_attributes(attrs, path: Path, required: tuple) -> dict:
    """The provenance attributes, or a DataError for a file another program (or hierax) wrote."""
    if "hierax_formula" not in attrs:
        raise DataError(f"{path} was not written by hierax (no hierax_formula attribute; ArviZ reads it with "
                        f"az.from_netcdf); {SAVE_HINT}")
    missing = [key for key in required if key not in attrs]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)} (written by another version of hierax?); fit the model "
                        "again and save it with --out")
    return dict(attrs)


def _saved_columns(groups, constant_data, path: Path) -> pd.DataFrame:
    if "constant_data" not in groups:
        raise DataError(f"{path} holds no data (saved by an older hierax, or without them); pass the data it was "
                        "fitted to (restore(path, data), or hierax report --data)")
    return constant_data().to_dataframe().reset_index(drop=True)


def _spec(attrs: dict, data, priors: dict | None, bayesian: bool = True):
    from hierax.model.build import build_model

    design, spec = build_model(attrs["hierax_formula"], data, attrs["hierax_family"], attrs["hierax_link"],
                               (priors or None) if bayesian else None, bayesian=bayesian)
    return spec, design


def _user_priors(table: pd.DataFrame) -> dict:
    """The priors the user set, keyed as ``hx.fit`` takes them, from the saved prior table."""
    from hierax.model import priors as prior_classes
    from hierax.model.prior_rules import prior_key

    out = {}
    for _, row in table[table["source"] == "user"].iterrows():
        group, coef = (str(v) if v not in (None, "") and not pd.isna(v) else "" for v in (row["group"], row["coef"]))
        key = prior_key(row["class"], group, coef)
        match = _PRIOR_TEXT.match(str(row["prior"]))
        kind = getattr(prior_classes, match.group(1), None) if match else None
        if kind is None or not isinstance(kind, type) or not issubclass(kind, prior_classes.Prior):
            raise DataError(f"cannot read the saved prior {row['prior']!r}; fit the model again and save it with "
                            "--out")
        out[key] = kind(*[float(a) for a in match.group(2).split(",") if a.strip()])
    return out


def _check_same_data(spec, rows: int, levels: list, path) -> None:
    """The data give the fit's number of rows and each group's levels, in order."""
    if rows != spec.num_obs:
        raise DataError(f"the data have {spec.num_obs} rows, the fit saved in {path} had {rows}; pass the data it "
                        "was fitted to")
    for block, saved in zip(spec.blocks, levels):
        if [str(v) for v in saved] != list(block.levels):
            raise DataError(f"the data's levels of {block.group!r} differ from those of the fit saved in {path}; "
                            "pass the data it was fitted to")


# -- REML / ML / Laplace fits ---------------------------------------------------------------------


def _write_mixed(fit, columns, partial: Path) -> None:
    """The estimates as a ``mixed_fit`` group, the formula's columns as ``constant_data``."""
    output = _output_dataset(fit.output)
    output.attrs.update(_mixed_attributes(fit))
    output.to_netcdf(str(partial), group=MIXED_GROUP, engine="h5netcdf", mode="w")
    if columns is not None:
        _columns_dataset(columns).to_netcdf(str(partial), group="constant_data", engine="h5netcdf", mode="a")


def _mixed_attributes(fit) -> dict:
    return {
        "hierax_formula": fit.formula, "hierax_family": fit.family, "hierax_link": fit.link,
        "hierax_method": fit.method, "hierax_versions": json.dumps(fit.versions),
        "hierax_warnings": json.dumps(list(fit.warnings)), "hierax_timing": json.dumps(fit.timing),
        "hierax_output_type": type(fit.output).__name__, "hierax_num_obs": int(fit.spec.num_obs),
        "hierax_levels": json.dumps([list(block.levels) for block in fit.spec.blocks]),
    }


def _output_dataset(output):
    """An engine output (LMMOutput or GLMMOutput) as arrays and a JSON attribute of its scalars.

    Arrays become variables (lists of arrays one per block, ``factors_0``, ...); the conditional
    variances, a function in the output, are evaluated and stored; every other field is JSON.
    """
    import xarray as xr

    arrays, scalars = {}, {}
    for name, value in output._asdict().items():
        if name == "random_variances":
            value = value()
        if name == "optimisation":
            record = value._asdict()
            scalars[name] = {k: v for k, v in record.items() if np.ndim(v) == 0}
            arrays.update({f"optimisation_{k}": np.asarray(v) for k, v in record.items() if np.ndim(v) >= 1})
        elif isinstance(value, list):
            arrays.update({f"{name}_{k}": np.asarray(v) for k, v in enumerate(value)})
            scalars[f"{name}__count"] = len(value)
        elif not isinstance(value, tuple) and np.ndim(value) >= 1:
            arrays[name] = np.asarray(value)
        else:
            scalars[name] = value
    variables = {name: xr.DataArray(np.asarray(v), dims=[f"{name}_dim{i}" for i in range(np.ndim(v))])
                 for name, v in arrays.items()}
    return xr.Dataset(variables, attrs={"hierax_output": json.dumps(scalars, default=_plain)})


def _plain(value):
    """JSON for numpy scalars (and arrays of one number), which ``json`` does not know."""
    if isinstance(value, (np.generic, np.ndarray)) and np.ndim(value) == 0:
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a saved fit")


def _restore_mixed(path: Path, groups: list[str], data):
    from hierax.results.mixedfit import MixedFit

    stored = _open_group(path, MIXED_GROUP)
    attrs = _hierax_attributes(stored.attrs, path, MIXED_REQUIRED)
    if data is None:
        data = _saved_columns(groups, lambda: _open_group(path, "constant_data"), path)
    spec, design = _spec(attrs, data, None, bayesian=False)
    _check_same_data(spec, int(attrs["hierax_num_obs"]), json.loads(attrs["hierax_levels"]), path)
    output = _output_from(stored, attrs["hierax_output_type"], path)
    return MixedFit(attrs["hierax_formula"], attrs["hierax_family"], attrs["hierax_link"], attrs["hierax_method"],
                    spec, design.info, output, tuple(json.loads(attrs["hierax_warnings"])),
                    json.loads(attrs["hierax_timing"]), json.loads(attrs["hierax_versions"]),
                    _formula_columns(attrs["hierax_formula"], data))


def _open_group(path: Path, group: str):
    """One group of a saved fit, read into memory (the file is closed again)."""
    import xarray as xr

    try:
        with xr.open_dataset(str(path), group=group, engine="h5netcdf") as handle:
            return handle.load()
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"{path} is damaged or incomplete (its {group} group: {str(error).splitlines()[0]}); "
                        f"{SAVE_HINT}") from None


def _output_from(stored, type_name: str, path: Path):
    """The engine output saved by :func:`_output_dataset`, the conditional variances as stored."""
    from hierax.engines.laplace import GLMMOutput
    from hierax.engines.lmm import LMMOutput, Optimisation

    kinds = {"LMMOutput": LMMOutput, "GLMMOutput": GLMMOutput}
    if type_name not in kinds:
        raise DataError(f"{path} holds an engine output of unknown kind {type_name!r} (written by another version "
                        "of hierax?); fit the model again and save it with --out")
    scalars = json.loads(stored.attrs["hierax_output"])
    arrays = {name: stored[name].values for name in stored.data_vars}
    fields = {}
    for name in kinds[type_name]._fields:
        count = scalars.get(f"{name}__count")
        if name == "optimisation":
            record = dict(scalars[name], **{k: arrays[f"optimisation_{k}"] for k in Optimisation._fields
                                            if f"optimisation_{k}" in arrays})
            fields[name] = Optimisation(**record)
        elif count is not None:
            values = [arrays[f"{name}_{k}"] for k in range(count)]
            fields[name] = _constant(values) if name == "random_variances" else values
        elif name in arrays:
            fields[name] = arrays[name]
        elif name in scalars:
            fields[name] = _tuples(scalars[name])
    return kinds[type_name](**fields)


def _constant(values: list):
    """The saved conditional variances, as the output's function that computes them returned them."""
    return lambda: values


def _tuples(value):
    """JSON lists back to the tuples they were (theta_entries, singular)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value
