"""Shared helpers of the training tests: the CLI in a subprocess, metrics comparisons.

Subprocess runs share a persistent compilation cache so identical programs compile once.
"""

import os
import subprocess
import sys

import numpy as np

from lrux.train import read_metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "train_lra.py")


def cli(workdir, *args, env=None, timeout=300, wait=True, cache=True, **popen):
    """Run examples/train_lra.py ARGS (no progress bar) in a subprocess."""
    full_env = dict(os.environ)
    full_env.update({
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": ROOT + os.pathsep + full_env.get("PYTHONPATH", ""),
    })
    if cache:
        full_env.update({"JAX_COMPILATION_CACHE_DIR": str(workdir / "jax_cache"),
                         "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"})
    full_env.update(env or {})
    cmd = [sys.executable, SCRIPT, "--no-progress", *args]
    if not wait:
        return subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=ROOT, **popen)
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, **popen)


def records(run_dir, drop=("steps_per_sec",)):
    return [{k: v for k, v in r.items() if k not in drop} for r in read_metrics(run_dir)]


def assert_same_records(a, b, rtol):
    assert [(r["step"], r["split"]) for r in a] == [(r["step"], r["split"]) for r in b]
    for ra, rb in zip(a, b, strict=True):
        for key in ("loss", "accuracy", "lr"):
            if key in ra:
                np.testing.assert_allclose(ra[key], rb[key], rtol=rtol, err_msg=str(ra))
