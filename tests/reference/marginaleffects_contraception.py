"""Reference answers of Python marginaleffects (0.6.0) for avg_comparisons / avg_slopes /
avg_predictions on the contraception model, written to marginaleffects_contraception.json so
hierax's tests can compare hierax.workflow.margins without marginaleffects installed.

Model: use ~ age + I(age^2) + urban + livch + (1 | district), bernoulli, logit link.
The fit is not redone here: its inputs are fixed files
  data/contraception.csv            the data (livch and district read as text)
  data/contraception_laplace.json   a Laplace fit: beta, vcov_beta, district conditional modes
  data/contraception_draws.csv      400 posterior draws (fixed effects and district effects)
and marginaleffects sees the model through a hand-written adapter (ModelAbstract subclass) whose
get_predict computes the expected response with numpy. Nothing of hierax is used.

Run from the repository root with a Python that has marginaleffects 0.6.0 (and polars<2):
    /tmp/mfx/bin/python tests/reference/marginaleffects_contraception.py
"""

from __future__ import annotations

import datetime
import importlib.metadata as md
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import polars as pl

import marginaleffects as me
from marginaleffects.classes.model import ModelAbstract, ModelVault

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
OUT = HERE / "marginaleffects_contraception.json"

FIXED = ["(Intercept)", "age", "I(age^2)", "urban[Y]", "livch[1]", "livch[2]", "livch[3+]"]
URBAN = ["N", "Y"]
LIVCH = ["0", "1", "2", "3+"]
FORMULA = "use ~ age + urban + livch + district"
EPS = 1e-4

# the queries: marginaleffects function and the keyword arguments passed to it, exactly
QUERIES = {
    "Q1": ("avg_comparisons", {"variables": ["age", "urban", "livch"]}),
    "Q2": ("avg_comparisons", {"variables": "urban", "by": "livch", "comparison": "lnor"}),
    "Q3": ("avg_comparisons", {"variables": {"age": "sd"}, "comparison": "ratio"}),
    "Q4": ("avg_slopes", {"variables": "age", "slope": "dydx", "eps": EPS}),
    "Q5": ("avg_slopes", {"variables": "age", "slope": "eyex", "eps": EPS, "by": "urban"}),
    "Q6": ("avg_predictions", {"by": "urban"}),
    "Q7": ("avg_comparisons", {"variables": {"livch": "sequential"}, "comparison": "lift"}),
    "Q8": ("avg_comparisons", {"variables": {"age": [-10, 10]}}),
    "Q9": ("avg_slopes", {"variables": "age", "slope": "dyex", "eps": EPS, "by": "livch"}),
    # Q7 as asked pools its three contrasts (each is labelled "liftavg", and marginaleffects
    # averages within (term, contrast) labels): Q7_pairs asks for each sequential pair alone
    "Q7_pairs": ("avg_comparisons", [{"variables": {"livch": [lo, hi]}, "comparison": "lift"}
                                     for lo, hi in zip(LIVCH[:-1], LIVCH[1:])]),
}
BY_COLUMN = {q: (kw[0] if isinstance(kw, list) else kw).get("by") for q, (_, kw) in QUERIES.items()}


# -- inputs ---------------------------------------------------------------------------------------
def read_inputs():
    laplace = json.loads((DATA / "contraception_laplace.json").read_text())
    assert laplace["fixed_names"] == FIXED, laplace["fixed_names"]
    levels = [str(x) for x in laplace["district_levels"]]
    data = pl.read_csv(DATA / "contraception.csv",
                       schema_overrides={"use": pl.Int64, "age": pl.Float64, "urban": pl.String,
                                         "livch": pl.String, "district": pl.String})
    assert sorted(data["urban"].unique().to_list()) == URBAN
    assert sorted(data["livch"].unique().to_list()) == LIVCH
    assert set(data["district"].unique().to_list()) == set(levels)
    # marginaleffects refuses String columns in the formula: Enum, in the reference-level order
    data = data.with_columns(pl.col("urban").cast(pl.Enum(URBAN)),
                             pl.col("livch").cast(pl.Enum(LIVCH)),
                             pl.col("district").cast(pl.Enum(levels)))
    draws = pl.read_csv(DATA / "contraception_draws.csv")
    assert draws.columns[:7] == FIXED
    return data, laplace, levels, draws


# -- the adapter ------------------------------------------------------------------------------------
class ModelContraception(ModelAbstract):
    """marginaleffects' view of the fitted GLMM: coef = the 7 fixed effects; the district effects
    (conditional modes or one draw's) ride along outside coef, so the delta method treats them
    as fixed (as marginaleffects does for lme4/glmmTMB). re=False sets them to zero."""

    def __init__(self, data, coef, vcov, district_levels, district_effects, re=True):
        self.district_levels = list(district_levels)
        effects = np.asarray(district_effects, dtype=float)
        self.district_effects = effects if re else np.zeros_like(effects)
        vault = ModelVault(
            coef=np.asarray(coef, dtype=float),
            coefnames=np.array(FIXED),
            vcov=None if vcov is None else np.asarray(vcov, dtype=float),
            modeldata=data,
            formula=FORMULA,
            package="hierax-reference",
            variables_type={"use": "binary", "age": "numeric", "urban": "character",
                            "livch": "character", "district": "character"},
        )
        super().__init__(model=None, vault=vault)

    def get_vcov(self, vcov=True):
        if vcov is False or vcov is None:
            return None
        return self.vault.vcov

    def get_exog(self, newdata):
        return newdata

    def design(self, newdata: pl.DataFrame) -> np.ndarray:
        age = newdata["age"].cast(pl.Float64).to_numpy()
        urban = newdata["urban"].cast(pl.String).to_numpy()
        livch = newdata["livch"].cast(pl.String).to_numpy()
        return np.column_stack([
            np.ones_like(age), age, age ** 2, (urban == "Y").astype(float),
            (livch == "1").astype(float), (livch == "2").astype(float), (livch == "3+").astype(float),
        ])

    def district_index(self, newdata: pl.DataFrame) -> np.ndarray:
        return (newdata["district"].cast(pl.String).cast(pl.Enum(self.district_levels))
                .to_physical().to_numpy().astype(np.int64))

    def get_predict(self, params, newdata):
        params = np.asarray(params, dtype=float).reshape(-1)
        eta = self.design(newdata) @ params + self.district_effects[self.district_index(newdata)]
        p = 1.0 / (1.0 + np.exp(-eta))
        return pl.DataFrame({"rowid": pl.Series(range(newdata.shape[0]), dtype=pl.Int32),
                             "estimate": p})


# -- running a query --------------------------------------------------------------------------------
def run(model, q, vcov=True):
    fname, kwargs = QUERIES[q]
    calls = kwargs if isinstance(kwargs, list) else [kwargs]
    frames = []
    for kw in calls:
        with warnings.catch_warnings():
            warnings.simplefilter("error")          # surface anything unexpected ...
            warnings.simplefilter("ignore", DeprecationWarning)   # ... but polars' deprecations inside marginaleffects
            df = getattr(me, fname)(model, vcov=vcov, **kw).data
        if isinstance(kwargs, list):                # Q7_pairs: name the pair marginaleffects' label omits
            (name, (lo, hi)), = kw["variables"].items()
            df = df.with_columns(pl.lit(f"{hi} - {lo}").alias("pair"))
        frames.append(df)
    return pl.concat(frames, how="vertical_relaxed")


def labels(df: pl.DataFrame, q: str) -> dict:
    out = {}
    for col in ("term", "contrast", "pair"):
        if col in df.columns:
            out[col] = [str(x) for x in df[col].to_list()]
    by = BY_COLUMN[q]
    if by is not None:
        out[by] = [str(x) for x in df[by].to_list()]
    return out


def central_se(make_model, q, beta, V, base_labels):
    """SE with a central-difference jacobian of marginaleffects' own estimates (each coefficient
    moved by h = 1e-5 * max(1, |beta_i|) both ways), a tighter target than marginaleffects'
    one-sided std_error for a test against an exact (autodiff) jacobian."""
    cols = []
    for i in range(len(beta)):
        h = 1e-5 * max(1.0, abs(beta[i]))
        up, dn = beta.copy(), beta.copy()
        up[i] += h
        dn[i] -= h
        a, b = run(make_model(up), q, vcov=False), run(make_model(dn), q, vcov=False)
        assert labels(a, q) == base_labels and labels(b, q) == base_labels
        cols.append((a["estimate"].to_numpy() - b["estimate"].to_numpy()) / (2 * h))
    J = np.column_stack(cols)
    return np.sqrt(np.einsum("ij,jk,ik->i", J, V, J))


def draw_summaries(make, draws, levels, key, t0):
    """Each query at every posterior draw (vcov=False): the draws' mean, sd and quantiles per row."""
    per_q = {q: [] for q in QUERIES}
    lab0 = {}
    fx = draws.select(FIXED).to_numpy()
    rd = draws.select([f"r_district[{lev}]" for lev in levels]).to_numpy()
    for s in range(draws.height):
        m = make(fx[s], eff=rd[s])
        for q in QUERIES:
            df = run(m, q, vcov=False)
            lab = labels(df, q)
            if s == 0:
                lab0[q] = lab
            else:
                assert lab == lab0[q], (q, s)
            per_q[q].append(df["estimate"].to_numpy())
        if (s + 1) % 100 == 0:
            print(f"[{time.time() - t0:7.1f}s] draws {key}: {s + 1}", flush=True)
    out = {}
    for q in QUERIES:
        E = np.vstack(per_q[q])                      # draws x rows
        rec = dict(lab0[q])
        rec["mean"] = E.mean(axis=0).tolist()
        rec["sd"] = E.std(axis=0, ddof=1).tolist()
        rec["q025"] = np.quantile(E, 0.025, axis=0).tolist()
        rec["q975"] = np.quantile(E, 0.975, axis=0).tolist()
        rec["first_draws"] = E[:3].tolist()
        out[q] = rec
    return out


def describe(data, hand, runtime):
    """The JSON's header: versions, the model, the adapter and the parametrisation in words."""
    return {
        "generator": "tests/reference/marginaleffects_contraception.py",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"marginaleffects": md.version("marginaleffects"), "polars": pl.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "runtime_s": round(runtime, 1),
        "age_sd_used_by_sd_contrast": float(data["age"].std()),
        "model": ("use ~ age + I(age^2) + urban + livch + (1 | district), bernoulli, logit link; "
                  "fixed effects in the order " + ", ".join(FIXED) + " (treatment coding, "
                  "reference levels urban N and livch 0). Data: data/contraception.csv (1934 rows; "
                  "livch and district read as text, cast to polars Enum with levels N,Y / 0,1,2,3+ / "
                  "the 60 district labels of the Laplace file)."),
        "adapter": ("a marginaleffects.classes.model.ModelAbstract subclass filled through ModelVault "
                    "(coef = the 7 fixed effects, coefnames, vcov, modeldata = the data as polars, "
                    f"formula '{FORMULA}'); get_exog returns newdata unchanged; get_predict builds X "
                    "by hand from the (counterfactual) columns age, age^2, urban==Y, livch==1/2/3+, "
                    "eta = X @ params + district effect of the row's district, and returns "
                    "pl.DataFrame(rowid, estimate = 1/(1+exp(-eta))). re_true: the district effect "
                    "is the row's; re_false: zero. The district effects are not coefficients: "
                    "the delta method holds them fixed (marginaleffects on lme4/glmmTMB does the same)."),
        "parametrisation": (
            "estimates are on the response scale (probability); comparison/slope semantics are "
            "marginaleffects 0.6.0's avg_* ('...avg' estimands: difference = mean(hi) - mean(lo), "
            "ratio = mean(hi)/mean(lo), lnor = log(odds(mean(hi))/odds(mean(lo))), lift = "
            "(mean(hi) - mean(lo))/mean(lo), dydx = mean((hi-lo)/eps), eyex = mean((hi-lo)/eps * "
            "x/y), dyex = mean((hi-lo)/eps * x), with y the prediction at the observed row); "
            "numeric contrasts are centred (x +- 0.5 for +1, x +- sd/2 for 'sd', sd = polars "
            "std (ddof=1) of age in modeldata); slopes are centred differences with eps = 1e-4 "
            "absolute (x +- eps/2); [a, b] sets every row to a (lo) and b (hi); categorical "
            "'reference' = each level against the first, 'sequential' = each against the previous; "
            "by groups are formed after marginaleffects sorts newdata by the by column (Enum "
            "level order), so groups come out in level order."),
        "point": ("coef = Laplace beta, vcov = vcov_beta, district effects = district_modes. "
                  "std_error is marginaleffects' delta method: jacobian by one-sided (forward) "
                  "finite differences, step max(|beta_i| * sqrt(machine eps), 1e-10) (autodiff is "
                  "not used: the adapter provides no get_autodiff_args). std_error_central: the same "
                  "delta method with a central-difference jacobian of marginaleffects' own estimates "
                  "(step 1e-5 * max(1, |beta_i|)), accurate to ~1e-7 relative; use it to test an exact "
                  "jacobian tightly. The one-sided std_error is noisy for the slopes (Q4, Q5, Q9): the "
                  "forward step on beta (~1e-11 for age's coefficients) is divided into a difference "
                  "already divided by eps = 1e-4, so cancellation leaves it ~1e-3 relative off the exact "
                  "value (see hand_check); for the comparisons it is ~1e-6 off."),
        "draws": ("for each of the 400 rows of data/contraception_draws.csv: coef = its 7 fixed "
                  "effects, district effects = its r_district[...] columns, the query run with "
                  "vcov=False; per output row: mean, sd (ddof=1), numpy quantiles 0.025 and 0.975 "
                  "(linear method) over the draws; first_draws = the first 3 draws' estimates."),
        "queries_note": ("Q1 passes variables=['age','urban','livch'] explicitly: with variables=None "
                         "marginaleffects would take every formula variable, district included (60 "
                         "levels > its limit of 25 -> error). All nine queries ran. CAUTION Q7: "
                         "marginaleffects 0.6.0 labels every lift contrast 'liftavg' (no level names) "
                         "and averages within (term, contrast[, by]) labels, so the three sequential "
                         "contrasts of Q7 are POOLED into one row: (mean of the 3n hi predictions - "
                         "mean of the 3n lo predictions) / mean of the 3n lo predictions, hi levels "
                         "1,2,3+ and lo levels 0,1,2 (checked by hand below). That is an artefact, not a "
                         "per-contrast lift. Q7_pairs gives the per-contrast answer: one avg_comparisons "
                         "call per sequential pair, variables={'livch': [lo, hi]}, comparison='lift', "
                         "rows in the order 1-0, 2-1, 3+-2, with the pair named in the added column "
                         "'pair'."),
        "labels_note": ("labels are marginaleffects': numeric +1 -> '+1'; 'sd' with ratio -> "
                        "'(x+sd/2) / (x-sd/2)'; [a,b] -> 'b - a' (e.g. '10 - -10'); categorical "
                        "'Y - N', '1 - 0'; lnor -> 'ln(odds(Y) / odds(N))'; lift -> 'liftavg' "
                        "(no level names); slopes 'dY/dX', 'eY/eX', 'dY/eX'. avg_predictions has no "
                        "term/contrast columns."),
        "hand_check": {"description": ("numbers recomputed with numpy only (counterfactual means of "
                                       "expit(X beta + district mode)) on the point inputs, "
                                       "against marginaleffects' point estimates"), **hand},
    }


def hand_checks(model, data, beta, V, point, key):
    """Some of marginaleffects' point answers recomputed with numpy alone (counterfactual means of
    expit(X beta + district effect)), and two standard errors by an exact jacobian."""
    Xp = model.design(data)
    off = model.district_effects[model.district_index(data)]
    expit = lambda e: 1 / (1 + np.exp(-e))

    def p_at(**set_):
        d = data.with_columns(**{k: pl.lit(v) if not isinstance(v, np.ndarray) else pl.Series(v)
                                 for k, v in set_.items()})
        return expit(model.design(d) @ beta + off)

    age = data["age"].to_numpy()
    sd = float(np.std(age, ddof=1))
    h = {}
    q1 = point["Q1"]
    i_urb = [i for i, t in enumerate(q1["term"]) if t == "urban"][0]
    h["Q1 urban Y - N"] = (float(np.mean(p_at(urban="Y") - p_at(urban="N"))), q1["estimate"][i_urb])
    i_age = [i for i, t in enumerate(q1["term"]) if t == "age"][0]
    h["Q1 age +1"] = (float(np.mean(p_at(age=age + 0.5) - p_at(age=age - 0.5))), q1["estimate"][i_age])
    h["Q3 age sd ratio (sd ddof=1 of the data)"] = (
        float(np.mean(p_at(age=age + sd / 2)) / np.mean(p_at(age=age - sd / 2))),
        point["Q3"]["estimate"][0])
    p0 = expit(Xp @ beta + off)
    h["Q4 dydx vs analytic mean p(1-p)(b_age + 2 b_age2 age)"] = (
        float(np.mean(p0 * (1 - p0) * (beta[1] + 2 * beta[2] * age))), point["Q4"]["estimate"][0])
    urb = data["urban"].cast(pl.String).to_numpy()
    q6 = point["Q6"]
    for lev in URBAN:
        h[f"Q6 mean p, urban={lev}"] = (float(np.mean(p0[urb == lev])),
                                        q6["estimate"][q6["urban"].index(lev)])
    liv = data["livch"].cast(pl.String).to_numpy()
    his = np.concatenate([p_at(livch=b) for b in LIVCH[1:]])
    los = np.concatenate([p_at(livch=a) for a in LIVCH[:-1]])
    h["Q7 pooled: (mean(p at 1,2,3+ stacked) - mean(p at 0,1,2 stacked)) / mean(p at 0,1,2)"] = (
        float((his.mean() - los.mean()) / los.mean()), point["Q7"]["estimate"][0])
    for j, (a, b) in enumerate(zip(LIVCH[:-1], LIVCH[1:])):
        pa, pb = p_at(livch=a), p_at(livch=b)
        h[f"Q7_pairs {b} vs {a}: (mean p({b}) - mean p({a})) / mean p({a})"] = (
            float((pb.mean() - pa.mean()) / pa.mean()), point["Q7_pairs"]["estimate"][j])
    # the delta method with an exact jacobian (numpy, chain rule) for two rows
    def exact_se(rows_hi, rows_lo, step=1.0):
        (Xh, ph), (Xl, pl_) = rows_hi, rows_lo
        g = ((ph * (1 - ph))[:, None] * Xh - (pl_ * (1 - pl_))[:, None] * Xl).mean(axis=0) / step
        return float(np.sqrt(g @ V @ g))

    def at(**set_):
        d = data.with_columns(**{k: pl.lit(v) if not isinstance(v, np.ndarray) else pl.Series(v)
                                 for k, v in set_.items()})
        X = model.design(d)
        return X, expit(X @ beta + off)

    se_checks = {
        "Q1 urban Y - N": (exact_se(at(urban="Y"), at(urban="N")), q1["std_error"][i_urb],
                           q1["std_error_central"][i_urb]),
        "Q4 dydx": (exact_se(at(age=age + EPS / 2), at(age=age - EPS / 2), EPS),
                    point["Q4"]["std_error"][0], point["Q4"]["std_error_central"][0]),
    }
    out = {k: {"numpy": a, "marginaleffects": b, "abs_diff": abs(a - b)} for k, (a, b) in h.items()}
    out["std_error, exact jacobian (numpy) vs std_error and std_error_central"] = {
        k: {"exact": a, "std_error": b, "std_error_central": c,
            "rel_diff_std_error": abs(b / a - 1), "rel_diff_std_error_central": abs(c / a - 1)}
        for k, (a, b, c) in se_checks.items()}
    for k, v in out.items():
        if "numpy" not in v:
            print(f"  {k}: {v}")
            continue
        print(f"  hand check {key} {k}: numpy {v['numpy']:.15g} me {v['marginaleffects']:.15g} "
              f"diff {v['abs_diff']:.2e}")
    return out


def main():
    t0 = time.time()
    data, laplace, levels, draws = read_inputs()
    beta = np.asarray(laplace["beta"], dtype=float)
    V = np.asarray(laplace["vcov_beta"], dtype=float)
    modes = np.asarray(laplace["district_modes"], dtype=float)

    point, draw_out, hand = {}, {}, {}
    for re_flag in (True, False):
        key = "re_true" if re_flag else "re_false"

        def make(b, eff=modes, vc=None, re_flag=re_flag):
            return ModelContraception(data, b, vc, levels, eff, re=re_flag)

        # (a) point estimates and marginaleffects' delta method
        model = make(beta, vc=V)
        point[key] = {}
        for q in QUERIES:
            df = run(model, q, vcov=True)
            rec = labels(df, q)
            rec["estimate"] = df["estimate"].to_list()
            rec["std_error"] = df["std_error"].to_list()
            rec["std_error_central"] = central_se(lambda b: make(b), q, beta, V, labels(df, q)).tolist()
            point[key][q] = rec
        print(f"[{time.time() - t0:7.1f}s] point {key} done", flush=True)

        # hand checks (numpy only, no marginaleffects)
        hand[key] = hand_checks(model, data, beta, V, point[key], key)

        # (b) posterior draws
        draw_out[key] = draw_summaries(make, draws, levels, key, t0)

    runtime = time.time() - t0
    header = describe(data, hand, runtime)
    out = {"header": header,
           "queries": {q: ({"function": f, "calls": kw, "note": "one call per kwargs; rows "
                            "concatenated; column 'pair' = 'hi - lo' added by this script"}
                           if isinstance(kw, list) else {"function": f, "kwargs": kw})
                       for q, (f, kw) in QUERIES.items()},
           "point": point, "draws": draw_out}
    OUT.write_text(json.dumps(out, indent=1))
    print(f"wrote {OUT} in {runtime:.1f}s")


if __name__ == "__main__":
    main()
