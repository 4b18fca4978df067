"""Bad-input table for the workflow's many-fit tools (issue 20): what SBC, leave-one-group-out,
power by simulation and the parametric bootstrap fan their fits out over (``executor=``). Each is
refused before any fit. See ``conftest.py`` for what a row asserts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

import hierax as hx
from hierax.errors import HieraxError
from hierax.workflow.crt import power

from .conftest import Case, params, run_case

RNG = np.random.default_rng(20)
DATA = pd.DataFrame({"y": RNG.normal(size=40), "x": RNG.normal(size=40), "g": np.repeat(list("abcdefgh"), 5)})
GAUSSIAN = {"(Intercept)": 0.0, "treatment": 0.3, "sd[cluster][(Intercept)]": 0.2, "sigma": 1.0}


def _model():
    return hx.model("y ~ x + (1 | g)", DATA)


def _with_a_dask_client(call):
    """``call(client)`` with an in-process Dask client (no worker processes: nothing runs)."""
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, Client(cluster) as client:
        return call(client)


CASES = [
    Case("sbc_executor_a_number", lambda: hx.sbc(_model(), 4, executor=2, progress=False), HieraxError,
         "is not an executor", "client.get_executor()"),
    Case("sbc_executor_a_dask_client", lambda: _with_a_dask_client(
        lambda client: hx.sbc(_model(), 4, executor=client, progress=False)), HieraxError, "is a Dask client",
        "client.get_executor()"),
    Case("logo_executor_a_string", lambda: hx.logo(_model(), levels=["a"], executor="processes", progress=False),
         HieraxError, "is not an executor", "ProcessPoolExecutor"),
    Case("power_executor_a_list", lambda: power("y ~ treatment + (1 | cluster)", GAUSSIAN, "treatment", 6, 5,
                                                nsim=4, executor=[]), HieraxError, "is not an executor",
         "None to run the fits here"),
    Case("bootstrap_executor_a_dict", lambda: hx.bootstrap(hx.fit("y ~ x + (1 | g)", DATA, method="reml"),
                                                          lambda fit: fit.fixef()["estimate"], n=4, executor={}),
         HieraxError, "is not an executor", "client.get_executor()"),
]


@pytest.mark.parametrize("case", params(CASES))
def test_workflow_input(case):
    run_case(case)
