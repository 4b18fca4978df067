"""The persistent compilation cache: a second process reuses what the first compiled.

"No waiting" rests on it: every process used to print "Please install the filelock package" and
leave the cache empty, because JAX refuses a cache size limit without ``filelock``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = r"""
import json, sys
from jax import monitoring
events = {"hits": 0, "misses": 0}
def listen(name, **kw):
    if name == "/jax/compilation_cache/cache_hits":
        events["hits"] += 1
    elif name == "/jax/compilation_cache/cache_misses":
        events["misses"] += 1
monitoring.register_event_listener(listen)
import numpy as np, pandas as pd
import hierax as hx
rng = np.random.default_rng(0)
g = np.repeat(np.arange(6), 5)
data = pd.DataFrame({"y": rng.normal(size=30) + rng.normal(size=6)[g], "x": rng.normal(size=30), "g": g})
hx.fit("y ~ x + (1 | g)", data, method="reml")
hx.fit("y ~ x + (1 | g)", data, chains=2, warmup=20, draws=20, seed=1)
print(json.dumps(events))
"""


def _run(cache_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "HIERAX_"))}
    env["HIERAX_CACHE_DIR"] = str(cache_dir)
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_a_second_process_compiles_nothing(tmp_path):
    cache = tmp_path / "cache"
    first, first_err = _run(cache)
    entries = [p for p in cache.rglob("*") if p.is_file()]
    assert "filelock" not in first_err, first_err[-2000:]
    assert first["misses"] > 0 and len(entries) >= first["misses"] // 2, (first, len(entries))
    second, second_err = _run(cache)
    assert "filelock" not in second_err and "Warning" not in second_err, second_err[-2000:]
    assert second["misses"] == 0, second
    assert second["hits"] >= first["misses"], (first, second)
