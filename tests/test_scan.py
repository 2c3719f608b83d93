"""linear_scan against a float64 Python loop, finite differences and the loop's gradients."""

import itertools
import os
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import enable_x64, native_usable

from lrux.kernels import build, native_available
from lrux.scan import (
    complex_scan_stacked,
    default_chunk_size,
    linear_scan,
    projected_complex_scan,
    resolve_mode,
)

MODES = ["sequential", "parallel", "chunked"]
# every mode, "native" where the C++ kernel builds (test_native_kernel_builds fails on a
# machine with a compiler where it does not)
ALL_MODES = MODES + (["native"] if native_usable() else [])


def loop_scan(a, b, h0, reverse):
    """The oracle: h_t = a_t h_{t-1} + b_t, one Python step at a time, float64/complex128."""
    a, b, h0 = np.asarray(a), np.asarray(b), np.asarray(h0)
    out = np.zeros(b.shape, np.result_type(a, b, h0))
    h = h0.astype(out.dtype)
    order = range(b.shape[0] - 1, -1, -1) if reverse else range(b.shape[0])
    for t in order:
        h = (a[t] if a.ndim == b.ndim else a) * h + b[t]
        out[t] = h
    return out


def jax_loop_scan(a, b, h0, reverse):
    """The same loop as a jax.lax.scan, so jax.grad gives the oracle's gradients."""
    a_full = a if a.ndim == b.ndim else jnp.broadcast_to(a, b.shape)

    def step(h, ab):
        h = ab[0] * h + ab[1]
        return h, h

    return jax.lax.scan(step, h0, (a_full, b), reverse=reverse)[1]


def draw(rng, length, time_varying, complex_a, complex_b, state=(3, 2)):
    shape_a = (length, *state) if time_varying else state
    a = rng.uniform(-0.99, 0.99, shape_a)
    if complex_a:
        a = a * np.exp(1j * rng.uniform(0, 2 * np.pi, shape_a))
    b = rng.normal(size=(length, *state))
    if complex_b:
        b = b + 1j * rng.normal(size=(length, *state))
    h0 = rng.normal(size=state)
    if complex_a or complex_b:
        h0 = h0 + 1j * rng.normal(size=state)
    return a, b, h0


CASES = list(
    itertools.product(ALL_MODES, [False, True], [False, True], [False, True], [False, True])
)


@pytest.mark.parametrize("mode,reverse,time_varying,complex_ab,with_h0", CASES)
def test_forward_matches_float64_loop(mode, reverse, time_varying, complex_ab, with_h0):
    rng = np.random.default_rng(0)
    with enable_x64():
        for length in (1, 33):
            a, b, h0 = draw(rng, length, time_varying, complex_ab, complex_ab)
            if not with_h0:
                h0 = np.zeros_like(h0)
            want = loop_scan(a, b, h0, reverse)
            for chunk in (None, 5):
                got = linear_scan(
                    jnp.asarray(a),
                    jnp.asarray(b),
                    jnp.asarray(h0) if with_h0 else None,
                    reverse=reverse,
                    mode=mode,
                    chunk_size=chunk,
                )
                assert got.dtype == want.dtype
                np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", ALL_MODES + ["auto"])
def test_mixed_real_a_complex_b_float32(mode):
    """The LRU's case in float32: real or complex a with complex b, long enough to chunk."""
    rng = np.random.default_rng(1)
    a, b, h0 = draw(rng, 300, False, True, True, state=(16,))
    want = loop_scan(a, b, h0, False)
    got = linear_scan(
        jnp.asarray(a, jnp.complex64),
        jnp.asarray(b, jnp.complex64),
        jnp.asarray(h0, jnp.complex64),
        mode=mode,
    )
    assert got.dtype == jnp.complex64
    np.testing.assert_allclose(np.asarray(got), want, rtol=2e-4, atol=2e-4)


DTYPES = [(False, False), (False, True), (True, True)]  # (complex a, complex b)
GRAD_CASES = [
    (mode, reverse, tv, ca, cb)
    for mode, reverse, tv, (ca, cb) in itertools.product(
        ALL_MODES, [False, True], [False, True], DTYPES
    )
]


@pytest.mark.parametrize("mode,reverse,time_varying,complex_a,complex_b", GRAD_CASES)
def test_gradients_equal_loop_gradients(mode, reverse, time_varying, complex_a, complex_b):
    """Custom VJP == jax.grad of the plain loop, for a, b and h0, real and complex."""
    rng = np.random.default_rng(2)
    with enable_x64():
        a, b, h0 = (jnp.asarray(v) for v in draw(rng, 23, time_varying, complex_a, complex_b))
        if not (complex_a or complex_b):
            h0 = h0.real
        weights = jnp.asarray(rng.normal(size=b.shape))

        def loss(fn):
            return lambda a, b, h0: jnp.sum(weights * jnp.abs(fn(a, b, h0)) ** 2)

        want = jax.grad(loss(lambda a, b, h0: jax_loop_scan(a, b, h0, reverse)), (0, 1, 2))(
            a, b, h0
        )
        got = jax.grad(
            loss(lambda a, b, h0: linear_scan(a, b, h0, reverse=reverse, mode=mode, chunk_size=4)),
            (0, 1, 2),
        )(a, b, h0)
        for g, w in zip(got, want, strict=True):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_gradient_matches_finite_differences(mode):
    """Directional derivative of the custom VJP against central differences (float64)."""
    rng = np.random.default_rng(3)
    with enable_x64():
        a, b, h0 = (jnp.asarray(v) for v in draw(rng, 40, True, False, True, state=(4,)))
        a_const = jnp.asarray(rng.uniform(-0.9, 0.9, (4,)))

        def loss(a, a_const, b, h0):
            h1 = linear_scan(a, b, h0, mode=mode, chunk_size=6)
            h2 = linear_scan(a_const, h1, reverse=True, mode=mode, chunk_size=7)
            return jnp.sum(jnp.sin(h2.real) + h2.imag**2)

        args = (a, a_const, b, h0)
        grads = jax.grad(loss, argnums=(0, 1, 2, 3))(*args)
        eps = 1e-6
        for i, arg in enumerate(args):
            direction = jnp.asarray(rng.normal(size=arg.shape))
            if jnp.iscomplexobj(arg):
                direction = direction + 1j * jnp.asarray(rng.normal(size=arg.shape))
            plus = list(args)
            minus = list(args)
            plus[i] = arg + eps * direction
            minus[i] = arg - eps * direction
            numeric = (loss(*plus) - loss(*minus)) / (2 * eps)
            # JAX's convention for a real loss: grad = dL/dx - i dL/dy, so
            # d loss = Re(sum(grad * direction)).
            analytic = jnp.real(jnp.sum(grads[i] * direction))
            np.testing.assert_allclose(float(analytic), float(numeric), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_jit_vmap_and_grad_compose(mode):
    rng = np.random.default_rng(4)
    a = jnp.asarray(rng.uniform(0, 0.9, (5,)), jnp.float32)
    b = jnp.asarray(rng.normal(size=(3, 50, 5)), jnp.float32)
    batched = jax.jit(jax.vmap(lambda b: linear_scan(a, b, mode=mode)))
    out = batched(b)
    for i in range(3):
        np.testing.assert_allclose(
            np.asarray(out[i]), loop_scan(a, b[i], np.zeros(5), False), rtol=1e-5, atol=1e-5
        )
    g = jax.jit(jax.grad(lambda a: jnp.sum(jax.vmap(lambda b: linear_scan(a, b))(b) ** 2)))(a)
    assert g.shape == (5,) and bool(jnp.all(jnp.isfinite(g)))
    # time-varying a, batched h0, two vmapped axes: every argument batched differently
    a_tv = jnp.asarray(rng.uniform(0, 0.9, (2, 3, 50, 5)), jnp.float32)
    h0 = jnp.asarray(rng.normal(size=(2, 3, 5)), jnp.float32)
    b2 = jnp.stack([b, 2 * b])
    nested = jax.jit(jax.vmap(jax.vmap(
        lambda a, b, h0: linear_scan(a, b, h0, reverse=True, mode=mode))))(a_tv, b2, h0)
    for i, j in itertools.product(range(2), range(3)):
        np.testing.assert_allclose(
            np.asarray(nested[i, j]), loop_scan(a_tv[i, j], b2[i, j], h0[i, j], True),
            rtol=1e-5, atol=1e-5)


def test_bad_input_errors():
    b = jnp.zeros((10, 4))
    with pytest.raises(ValueError, match="a must have shape"):
        linear_scan(jnp.zeros(3), b)
    with pytest.raises((ValueError, TypeError), match="h0"):  # jaxtyping may catch it first
        linear_scan(jnp.zeros(4), b, jnp.zeros(5))
    with pytest.raises((ValueError, TypeError), match="mode"):
        linear_scan(jnp.zeros(4), b, mode="fast")
    with pytest.raises(ValueError, match="chunk_size"):
        linear_scan(jnp.zeros(4), b, mode="chunked", chunk_size=0)


def test_auto_mode_choice(monkeypatch):
    assert resolve_mode("native", 4096, "cpu") == "native"
    with pytest.raises(ValueError, match="CPU only"):
        resolve_mode("native", 4096, "gpu")
    assert resolve_mode("auto", 4096, "gpu") == "parallel"
    if native_available():
        assert resolve_mode("auto", 4096, "cpu") == "native"
        assert resolve_mode("auto", 10, "cpu") == "native"
    import lrux.kernels

    monkeypatch.setattr(lrux.kernels, "native_available", lambda: False)  # no compiler
    assert resolve_mode("auto", 10, "cpu") == "sequential"
    assert resolve_mode("auto", 4096, "cpu") == "chunked"
    assert resolve_mode("parallel", 4096, "cpu") == "parallel"
    assert default_chunk_size(4096) == 64


def test_auto_uses_native_with_several_devices(monkeypatch):
    """The native kernels run per shard (test_kernels.py checks it on 8 devices), so "auto"
    picks them with any number of CPU devices."""
    monkeypatch.setattr(jax, "device_count", lambda *a: 8)
    assert resolve_mode("auto", 4096, "cpu") == ("native" if native_available() else "chunked")
    assert resolve_mode("auto", 4096, "gpu") == "parallel"


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("reverse", [False, True])
def test_complex_scan_stacked_matches_loop_and_its_gradients(mode, reverse):
    """The [Re | Im] real-pair scan used by the LRU: values against the float64 loop and
    gradients against jax.grad of the loop, for lengths that do and do not divide the chunk."""
    rng = np.random.default_rng(5)
    n = 3
    with enable_x64():
        for length in (1, 16, 37):
            lam = rng.uniform(0.5, 0.99, n) * np.exp(1j * rng.uniform(0, 2 * np.pi, n))
            b = rng.normal(size=(length, 2 * n))
            want = loop_scan(lam, b[:, :n] + 1j * b[:, n:], np.zeros(n, complex), reverse)
            args = (jnp.asarray(lam.real), jnp.asarray(lam.imag), jnp.asarray(b))
            got = complex_scan_stacked(*args, reverse=reverse, mode=mode, chunk_size=4)
            np.testing.assert_allclose(
                np.asarray(got), np.concatenate([want.real, want.imag], -1), atol=1e-10
            )
            weights = jnp.asarray(rng.normal(size=b.shape))

            def loop_loss(lr, li, b, weights=weights):
                h = jax_loop_scan(
                    jax.lax.complex(lr, li),
                    jax.lax.complex(b[:, :n], b[:, n:]),
                    jnp.zeros(n, jnp.complex128),
                    reverse,
                )
                return jnp.sum(weights * jnp.concatenate([h.real, h.imag], -1) ** 2)

            def loss(lr, li, b, weights=weights):
                h = complex_scan_stacked(lr, li, b, reverse=reverse, mode=mode, chunk_size=4)
                return jnp.sum(weights * h**2)

            for g, w in zip(
                jax.grad(loss, (0, 1, 2))(*args), jax.grad(loop_loss, (0, 1, 2))(*args), strict=True
            ):
                np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-9, atol=1e-9)
    with pytest.raises((ValueError, TypeError)):
        complex_scan_stacked(jnp.zeros(3), jnp.zeros(3), jnp.zeros((5, 5)))


def projected_loop(x, w_in, lam, w_out, d, reverse):
    """The oracle of projected_complex_scan: the float64 loop between two numpy matmuls."""
    n = lam.shape[0]
    bu = x @ w_in.T
    h = loop_scan(lam, bu[:, :n] + 1j * bu[:, n:], np.zeros(n, complex), reverse)
    return np.concatenate([h.real, h.imag], -1) @ w_out.T + d * x


def draw_projected(rng, length, n=3, width=4):
    lam = rng.uniform(0.5, 0.99, n) * np.exp(1j * rng.uniform(0, 2 * np.pi, n))
    x = rng.normal(size=(length, width))
    w_in, w_out = rng.normal(size=(2 * n, width)), rng.normal(size=(width, 2 * n))
    return lam, x, w_in, w_out, rng.normal(size=width)


@pytest.mark.parametrize("reverse", [False, True])
def test_projected_scan_matches_loop_fused_or_not(reverse):
    """Values against the float64 loop: lengths below two chunks (unfused), whole chunks and
    a remainder (fused), under jit and vmap; gradients equal jax.grad of the loop (the fused
    call's VJP is the unfused layer's). The XLA modes run the unfused layer (test_lru.py)."""
    if not native_usable():
        pytest.skip("native scan unavailable")
    mode = "native"
    rng = np.random.default_rng(11)
    with enable_x64():
        for length in (3, 10, 23):
            lam, x, w_in, w_out, d = draw_projected(rng, length)
            xs = np.stack([x, -2 * x])

            def layer(x, w_in, lr, li, w_out, d):
                return projected_complex_scan(
                    x, w_in, lr, li, w_out, d, reverse=reverse, mode=mode, chunk_size=5
                )

            args = tuple(jnp.asarray(v) for v in (w_in, lam.real, lam.imag, w_out, d))
            # the fused path is the one that runs the kernel in place
            jaxpr = str(jax.make_jaxpr(layer)(jnp.asarray(x), *args))
            assert ("input_output_aliases=((3, 0),)" in jaxpr) == (length >= 10)
            got = jax.jit(jax.vmap(layer, (0, None, None, None, None, None)))(
                jnp.asarray(xs), *args
            )
            for i in range(2):
                want = projected_loop(xs[i], w_in, lam, w_out, d, reverse)
                np.testing.assert_allclose(np.asarray(got[i]), want, rtol=1e-10, atol=1e-10)
            weights = jnp.asarray(rng.normal(size=x.shape))

            def loop_layer(x, w_in, lr, li, w_out, d):
                bu = x @ w_in.T
                h = jax_loop_scan(
                    jax.lax.complex(lr, li), jax.lax.complex(bu[:, :3], bu[:, 3:]),
                    jnp.zeros(3, jnp.complex128), reverse,
                )
                return jnp.concatenate([h.real, h.imag], -1) @ w_out.T + d * x

            def loss(fn, weights=weights):
                return lambda *a: jnp.sum(weights * jnp.sin(fn(*a)))

            all_args = (jnp.asarray(x), *args)
            got_g = jax.jit(jax.grad(loss(layer), range(6)))(*all_args)
            want_g = jax.grad(loss(loop_layer), range(6))(*all_args)
            for g, w in zip(got_g, want_g, strict=True):
                np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-9, atol=1e-9)


def test_projected_scan_fused_float32_default_chunk():
    """The default chunk in float32: a length of two chunks and a remainder (fused under
    "auto" where the native kernel runs) against the float64 loop, both directions."""
    if not native_usable():
        pytest.skip("native scan unavailable")
    rng = np.random.default_rng(12)
    lam, x, w_in, w_out, d = draw_projected(rng, 2 * 8192 + 77, n=4, width=3)
    f32 = lambda v: jnp.asarray(v, jnp.float32)
    for reverse in (False, True):
        got = projected_complex_scan(
            f32(x), f32(w_in), f32(lam.real), f32(lam.imag), f32(w_out), f32(d), reverse=reverse
        )
        want = projected_loop(x, w_in, lam, w_out, d, reverse)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-3, atol=1e-3)
    with pytest.raises((ValueError, TypeError), match="w_in"):  # jaxtyping may catch it first
        projected_complex_scan(f32(x), f32(w_out), f32(lam.real), f32(lam.imag), f32(w_out),
                               f32(d))


def test_native_kernel_builds():
    """The C++ scan compiles and registers wherever a C++ compiler exists (CI has g++)."""
    if not (shutil.which("c++") or shutil.which("g++")):
        pytest.skip("no C++ compiler on this machine")
    assert native_available()
    assert build().endswith(".so")


def test_native_scan_under_nested_vmap_jit_and_float32():
    """Two vmapped batch axes reach the kernel as leading axes; float32 against float64."""
    if not native_usable():
        pytest.skip("native scan unavailable")
    rng = np.random.default_rng(8)
    n, length = 5, 300
    lam = rng.uniform(0.9, 0.999, n) * np.exp(1j * rng.uniform(0, 2 * np.pi, n))
    b = rng.normal(size=(2, 3, length, 2 * n)).astype(np.float32)
    lr, li = jnp.asarray(lam.real, jnp.float32), jnp.asarray(lam.imag, jnp.float32)
    for reverse in (False, True):
        scan = jax.jit(jax.vmap(jax.vmap(
            lambda b, reverse=reverse: complex_scan_stacked(lr, li, b, reverse=reverse,
                                                            mode="native"))))
        got = np.asarray(scan(jnp.asarray(b)))
        for i, j in itertools.product(range(2), range(3)):
            want = loop_scan(lam, b[i, j, :, :n] + 1j * b[i, j, :, n:], np.zeros(n), reverse)
            np.testing.assert_allclose(got[i, j], np.concatenate([want.real, want.imag], -1),
                                       rtol=1e-4, atol=1e-4)
    # the gradient of lambda sums over both batch axes
    loss = lambda lr, li: jnp.sum(jax.vmap(jax.vmap(
        lambda b: complex_scan_stacked(lr, li, b, mode="native")))(jnp.asarray(b)) ** 2)
    ref = lambda lr, li: jnp.sum(jax.vmap(jax.vmap(
        lambda b: complex_scan_stacked(lr, li, b, mode="sequential")))(jnp.asarray(b)) ** 2)
    for g, w in zip(jax.grad(loss, (0, 1))(lr, li), jax.grad(ref, (0, 1))(lr, li), strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-4)


def test_native_scan_splits_large_batches_over_threads():
    """Work large enough for several threads (>= 2 x 64k elements) gives the same values
    and gradients as the XLA scan."""
    if not native_usable():
        pytest.skip("native scan unavailable")
    rng = np.random.default_rng(9)
    n = 16
    lam = rng.uniform(0.9, 0.999, n) * np.exp(1j * rng.uniform(0, 2 * np.pi, n))
    lr, li = jnp.asarray(lam.real, jnp.float32), jnp.asarray(lam.imag, jnp.float32)
    b = jnp.asarray(rng.normal(size=(6, 2048, 2 * n)), jnp.float32)  # 393k elements

    def loss(lr, li, b, mode):
        h = jax.vmap(lambda b: complex_scan_stacked(lr, li, b, reverse=True, mode=mode))(b)
        return jnp.sum(jnp.sin(h)), h

    (_, got), g_got = jax.value_and_grad(loss, (0, 1, 2), has_aux=True)(lr, li, b, "native")
    (_, want), g_want = jax.value_and_grad(loss, (0, 1, 2), has_aux=True)(lr, li, b, "chunked")
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)
    for g, w in zip(g_got, g_want, strict=True):
        # float32 sums of 12k terms: compare on the scale of the largest entry
        scale = float(np.abs(np.asarray(w)).max())
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-4, atol=1e-4 * scale)


def test_native_build_failure_and_opt_out(tmp_path):
    """A failing compiler raises an error naming the command; LRUX_NATIVE=0 turns the kernel
    off and "auto" falls back to the chunked scan."""
    with pytest.raises(RuntimeError, match="scan_cpu.cc"):
        build(compiler="false")
    code = (
        "from lrux.kernels import native_available; from lrux.scan import resolve_mode;"
        "print(native_available(), resolve_mode('auto', 4096, 'cpu'))"
    )
    env = dict(os.environ, LRUX_NATIVE="0", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "chunked"]
