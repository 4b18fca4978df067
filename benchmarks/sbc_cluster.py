"""Simulation-based calibration over a Dask cluster (issue 20, acceptance item 2).

radon ``log_radon ~ floor + (1 | county)`` (as ``sbc_radon.py``): ``--simulations`` simulations
(default 200), each a prior draw, data simulated given it and a NUTS fit (2 chains x 300 warm-up
+ 300 draws, every 3rd kept), through ``distributed.LocalCluster``'s executor
(``client.get_executor()``, worker processes of one thread each):

1. on one worker, then on two (the speed-up of two over one; each includes the workers' start-up,
   imports and their one compilation each);
2. on two workers again, one of them killed (SIGKILL) once ``--kill-after`` simulations have
   finished: Dask runs the lost worker's tasks again on the other (and on the worker its nanny
   restarts); the run must complete with every simulation, and its ranks must equal run 1's
   (the same seeds give the same fits wherever they run).

Prints a table of wall times and the checks. Usage: ``python benchmarks/sbc_cluster.py
[--simulations 200] [--kill-after 20] [--seed 2026]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import signal
import threading
import time
from pathlib import Path

import hierax as hx  # first: configures JAX before anything else starts it
import pandas as pd
from distributed import Client, LocalCluster

SHARED = Path(__file__).resolve().parents[2] / "shared"
FORMULA = "log_radon ~ floor + (1 | county)"


def run(model, workers: int, simulations: int, seed: int, kill_after: int | None = None):
    """(SBCResult, wall seconds, what the killer did) of one run on a fresh ``workers``-worker cluster."""
    start = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        killed = {}
        killer = None
        if kill_after is not None:
            killer = threading.Thread(target=_kill_one, args=(client, kill_after, simulations, killed))
            killer.start()
        result = hx.sbc(model, num_simulations=simulations, seed=seed, executor=client.get_executor(), progress=False)
        if killer is not None:
            killer.join()
    return result, time.perf_counter() - start, killed


def _kill_one(client, after: int, total: int, killed: dict) -> None:
    """SIGKILL one worker once ``after`` tasks are finished (and before all are)."""
    pids = client.run(os.getpid)
    scheduler = client.cluster.scheduler
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        finished = sum(task.state == "memory" for task in list(scheduler.tasks.values()))
        if after <= finished < total:
            address, pid = next(iter(pids.items()))
            os.kill(pid, signal.SIGKILL)
            killed.update(worker=address, finished=finished, at=time.monotonic())
            return
        time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=200)
    parser.add_argument("--kill-after", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    model = hx.model(FORMULA, pd.read_csv(SHARED / "data" / "radon_mn.csv"))
    one, one_s, _ = run(model, 1, args.simulations, args.seed)
    two, two_s, _ = run(model, 2, args.simulations, args.seed)
    lost, lost_s, killed = run(model, 2, args.simulations, args.seed, args.kill_after)
    table = pd.DataFrame({
        "run": ["1 worker", "2 workers", "2 workers, one killed"],
        "seconds": [one_s, two_s, lost_s],
        "simulations kept": [len(one.ranks), len(two.ranks), len(lost.ranks)],
        "failed": [len(one.failed), len(two.failed), len(lost.failed)],
        "passed": [one.passed(), two.passed(), lost.passed()]})
    print(f"SBC of radon {FORMULA} on a Dask LocalCluster ({platform.machine()}, {os.cpu_count()} cores), "
          f"{args.simulations} simulations, seed {args.seed}")
    print(table.round(1).to_string(index=False))
    print(f"speed-up of 2 workers over 1: {one_s / two_s:.2f}x")
    print(f"killed: {killed.get('worker')} after {killed.get('finished')} finished simulations")
    same = one.ranks.equals(two.ranks) and one.ranks.equals(lost.ranks)
    print(f"every run's ranks equal (same seeds): {same}")
    complete = killed and len(lost.ranks) == args.simulations and lost.failed.empty
    print(f"the killed run completed with every simulation: {bool(complete)}")


if __name__ == "__main__":
    main()
