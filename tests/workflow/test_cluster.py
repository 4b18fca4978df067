"""Many fits on a cluster (issue 20): SBC and power by simulation through a two-worker Dask
``LocalCluster``'s executor give the results of a run here, SBC compiles once per worker, and a
worker killed mid-run costs no finished result, the run completing on the workers left."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import pandas as pd
import pytest
from distributed import Client, LocalCluster

import hierax as hx
from tests.workflow.test_simulation import SHARED, radon, tiny  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(not SHARED.exists(), reason="../shared (data) is not beside the checkout")
SETTINGS = dict(warmup=150, draws=150, thin=3, seed=11, progress=False)


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread each, as on a two-core machine."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as connected:
        yield connected


@pytest.fixture(scope="module")
def model(tiny):  # noqa: F811
    return hx.model("log_radon ~ 1 + (1 | county)", tiny)


def _compiles(client) -> dict:
    """Per worker, how many NUTS step programs it has built."""
    def misses():
        from hierax.engines.steps import build_steps
        return build_steps.cache_info().misses

    return client.run(misses)


def test_sbc_over_a_dask_cluster_matches_a_run_here_and_compiles_once_a_worker(client, model):
    here = hx.sbc(model, num_simulations=6, **SETTINGS)
    there = hx.sbc(model, num_simulations=6, executor=client.get_executor(), **SETTINGS)
    pd.testing.assert_frame_equal(here.ranks, there.ranks)
    assert there.failed.empty
    assert all(count <= 1 for count in _compiles(client).values()), _compiles(client)


def test_a_worker_killed_mid_run_loses_no_finished_result(client, model):
    """One worker is killed (SIGKILL) once the first simulation has finished; Dask runs its
    tasks again on the workers left (and the one its nanny restarts), and every simulation's
    ranks equal those of a run here."""
    count = 12
    here = hx.sbc(model, num_simulations=count, **SETTINGS)
    before = client.run(os.getpid)
    killed = {}

    scheduler = client.cluster.scheduler
    earlier = set(scheduler.tasks)

    def kill_after_the_first_result():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = [task.state for key, task in list(scheduler.tasks.items()) if key not in earlier]
            if "memory" in states and states.count("memory") < count:
                address, pid = next(iter(before.items()))
                os.kill(pid, signal.SIGKILL)
                killed.update(address=address, finished=states.count("memory"))
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_after_the_first_result)
    killer.start()
    there = hx.sbc(model, num_simulations=count, executor=client.get_executor(), **SETTINGS)
    killer.join()
    assert killed and killed["finished"] < count, killed           # killed mid-run
    assert set(client.run(os.getpid).values()) != set(before.values())
    assert there.failed.empty and len(there.ranks) == count
    pd.testing.assert_frame_equal(here.ranks, there.ranks)


def test_power_by_simulation_over_a_dask_cluster_matches_a_run_here(client):
    """A cluster-randomised trial's power (``hierax.workflow.crt.power``) fans out the same way."""
    from hierax.workflow.crt import power
    from tests.workflow.test_crt import FORMULA, _gaussian

    here = power(FORMULA, _gaussian(0.3, 0.05), "treatment", 8, 10, nsim=6, seed=3)
    there = power(FORMULA, _gaussian(0.3, 0.05), "treatment", 8, 10, nsim=6, seed=3, executor=client.get_executor())
    assert there.failed == 0
    assert list(there.p_values) == list(here.p_values)
