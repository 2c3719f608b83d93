"""lrux.kernels' stacked complex scan with an initial state and in place, against a float64
loop and jax.grad of that loop (the kernel's build and batching are tested in test_scan.py)."""

import json
import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import enable_x64, native_usable
from test_scan import jax_loop_scan, loop_scan

from lrux.kernels import native_complex_scan

pytestmark = pytest.mark.skipif(not native_usable(), reason="native scan unavailable")


def stacked(z):
    return np.concatenate([z.real, z.imag], -1)


def draw(rng, length, n):
    lam = rng.uniform(0.5, 0.99, n) * np.exp(1j * rng.uniform(0, 2 * np.pi, n))
    return lam, rng.normal(size=(length, 2 * n)), rng.normal(size=2 * n)


@pytest.mark.parametrize("reverse", [False, True])
def test_initial_state_values_and_gradients(reverse):
    """h0 enters the first step (the last when reversed); gradients of lambda, h0 and b
    equal jax.grad of the float64 loop."""
    rng = np.random.default_rng(0)
    n = 3
    with enable_x64():
        for length in (1, 19):
            lam, b, h0 = draw(rng, length, n)
            complex_h0 = h0[:n] + 1j * h0[n:]
            want = loop_scan(lam, b[:, :n] + 1j * b[:, n:], complex_h0, reverse)
            args = tuple(jnp.asarray(v) for v in (lam.real, lam.imag, b, h0))
            got = native_complex_scan(*args[:3], args[3], reverse=reverse)
            np.testing.assert_allclose(np.asarray(got), stacked(want), rtol=1e-12, atol=1e-12)
            weights = jnp.asarray(rng.normal(size=b.shape))

            def loss(lr, li, b, h0, weights=weights):
                return jnp.sum(weights * native_complex_scan(lr, li, b, h0, reverse=reverse) ** 2)

            def loop_loss(lr, li, b, h0, weights=weights):
                h = jax_loop_scan(
                    jax.lax.complex(lr, li),
                    jax.lax.complex(b[:, :n], b[:, n:]),
                    jax.lax.complex(h0[:n], h0[n:]),
                    reverse,
                )
                return jnp.sum(weights * jnp.concatenate([h.real, h.imag], -1) ** 2)

            got_g = jax.grad(loss, (0, 1, 2, 3))(*args)
            want_g = jax.grad(loop_loss, (0, 1, 2, 3))(*args)
            for g, w in zip(got_g, want_g, strict=True):
                np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-9, atol=1e-9)


def test_in_place_equals_a_fresh_output_and_keeps_a_live_input():
    """in_place=True writes over b's buffer; where b is still used afterwards XLA keeps a copy,
    so both the scan and the later use of b see the original b (under jit and vmap)."""
    rng = np.random.default_rng(1)
    n = 4
    lam, _, h0 = draw(rng, 1, n)
    b = jnp.asarray(rng.normal(size=(3, 50, 2 * n)), jnp.float32)
    lr, li = jnp.asarray(lam.real, jnp.float32), jnp.asarray(lam.imag, jnp.float32)
    h0 = jnp.asarray(h0, jnp.float32)

    def both(b):
        h = native_complex_scan(lr, li, b, h0, reverse=True, in_place=True)
        return h, b * 2

    h, b2 = jax.jit(jax.vmap(both))(b)
    want = jax.vmap(lambda b: native_complex_scan(lr, li, b, h0, reverse=True))(b)
    np.testing.assert_array_equal(np.asarray(h), np.asarray(want))
    np.testing.assert_array_equal(np.asarray(b2), 2 * np.asarray(b))


EIGHT_DEVICES = r"""
import json, re
import jax, jax.numpy as jnp, numpy as np, equinox as eqx
from jax.sharding import NamedSharding, PartitionSpec as P
import lrux
from lrux.scan import linear_scan, projected_complex_scan

assert jax.device_count() == 8
auto = getattr(jax.sharding, "AxisType", None)
kw = {"axis_types": (auto.Auto,)} if auto is not None else {}
mesh = jax.make_mesh((8,), ("data",), **kw)
rows, one = NamedSharding(mesh, P("data")), jax.devices()[0]
rng = np.random.default_rng(0)
report = {}

def compare(name, fn, *args):
    # fn on a batch sharded over 8 devices and on one device; shapes of the kernel calls
    sharded = [jax.device_put(a, rows) for a in args]
    local = [jax.device_put(a, one) for a in args]
    got, want = fn(*sharded), fn(*local)
    diff = jax.tree.map(lambda g, w: float(np.max(np.abs(np.asarray(g) - np.asarray(w)))
                                           / (1 + np.max(np.abs(np.asarray(w))))), got, want)
    hlo = fn.lower(*sharded).compile().as_text()
    calls = re.findall(r"= (\S+|\(.*?\)) custom-call\(.*custom_call_target=\"(Lrux\w+)\"", hlo)
    report[name] = {"diff": max(jax.tree.leaves(diff)), "calls": calls,
                    "all_gather": "all-gather" in hlo}

# linear_scan: time-varying real a, h0, reverse; values and gradients of a, b, h0
a = jnp.asarray(rng.uniform(-0.9, 0.9, (16, 40, 3)), jnp.float32)
b = jnp.asarray(rng.normal(size=(16, 40, 3)), jnp.float32)
h0 = jnp.asarray(rng.normal(size=(16, 3)), jnp.float32)
scan = jax.vmap(lambda a, b, h0: linear_scan(a, b, h0, reverse=True, mode="native"))
loss = lambda a, b, h0: jnp.sum(jnp.sin(scan(a, b, h0)))
compare("linear", jax.jit(jax.value_and_grad(loss, (0, 1, 2))), a, b, h0)

# the LRU layer (auto): forward (fused, not differentiated) and value_and_grad
lru = lrux.LRU(6, 8, r_min=0.5, r_max=0.99, key=jax.random.key(0))
params, static = eqx.partition(lru, eqx.is_array)
x = jnp.asarray(rng.normal(size=(16, 600, 6)), jnp.float32)
apply = lambda p, x: jax.vmap(eqx.combine(p, static))(x)
compare("lru_forward", jax.jit(lambda x: apply(params, x)), x)
lru_loss = lambda p, x: jnp.mean(apply(p, x) ** 2)
compare("lru_grad", jax.jit(lambda x: jax.value_and_grad(lru_loss, (0, 1))(params, x)), x)

# the fused forward (six chunks of 100 steps, in place) on each device's rows
lr, li, *_ = lru._params()
w_in, w_out = jnp.ones((16, 6)) / 6, jnp.ones((6, 16)) / 16
fused = jax.vmap(lambda x: projected_complex_scan(x, w_in, lr, li, w_out, lru.D, mode="native",
                                                  chunk_size=100))
compare("fused_forward", jax.jit(fused), x)
print("REPORT " + json.dumps(report))
"""


def test_eight_devices_run_the_kernel_per_shard_and_match_one_device():
    """Inside jit with the batch sharded over 8 CPU devices, the native kernels run on each
    device's 2 of 16 rows (no all-gather) and give one device's values and gradients:
    linear_scan (time-varying a, h0, reverse), the LRU's forward and gradients, and the fused
    forward of projected_complex_scan (chunks in place)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, JAX_NUM_CPU_DEVICES="8", JAX_PLATFORMS="cpu", PYTHONPATH=root)
    proc = subprocess.run([sys.executable, "-c", EIGHT_DEVICES], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.split("REPORT ", 1)[1])
    for name, r in report.items():
        assert r["diff"] < 1e-5, (name, r)
        assert not r["all_gather"], (name, r)
        assert r["calls"], (name, r)
        for shape, _ in r["calls"]:  # every kernel call sees 2 rows, not 16
            assert re.match(r"\(?f32\[2,", shape), (name, shape)
    # the fused forward's kernel runs on chunks of 100 steps of the local rows
    assert any(shape.startswith("f32[2,100,16]") for shape, _ in report["fused_forward"]["calls"])
    kernels = {target for r in report.values() for _, target in r["calls"]}
    assert {"LruxLinearForwardF32", "LruxLinearBackwardF32", "LruxScanForwardF32",
            "LruxScanBackwardF32"} <= kernels
