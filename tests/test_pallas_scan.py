"""The Pallas scan kernels (mode="pallas") in Pallas' interpret mode, against the float64 loop
and jax.grad of that loop: linear_scan (real and complex, constant and time-varying a, h0,
reverse), the LRU's [Re | Im] scan with its fused backward kernel, and the LRU layer.
Sizes are small (interpret mode runs the kernels as JAX ops); lengths cover whole chunks
and a remainder, state sizes one and several programs."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import enable_x64
from test_scan import draw, jax_loop_scan, loop_scan

import lrux
from lrux.kernels import pallas_scan
from lrux.scan import complex_scan_stacked, linear_scan, resolve_mode

# two whole chunks and a remainder (interpret mode walks the sequence INTERPRET_CHUNK steps
# at a time: the compiled kernel's code with a shorter unroll)
LENGTH = 2 * pallas_scan.INTERPRET_CHUNK + 3


@pytest.mark.parametrize(
    "complex_ab,time_varying,reverse", [(False, False, True), (True, True, False)]
)
def test_linear_scan_values_and_gradients(complex_ab, time_varying, reverse):
    """Real with constant a from the end, complex with time-varying a: values and the
    gradients of a, b and h0 (the adjoint is the kernel run the other way)."""
    rng = np.random.default_rng(0)
    with enable_x64():
        a, b, h0 = draw(rng, LENGTH, time_varying, complex_ab, complex_ab, state=(3,))
        got = linear_scan(*(jnp.asarray(v) for v in (a, b, h0)), reverse=reverse, mode="pallas")
        assert got.dtype == b.dtype
        np.testing.assert_allclose(np.asarray(got), loop_scan(a, b, h0, reverse), atol=1e-12)
        weights = jnp.asarray(rng.normal(size=b.shape))

        def loss(fn):
            return lambda a, b, h0: jnp.sum(weights * jnp.abs(fn(a, b, h0)) ** 2)

        args = tuple(jnp.asarray(v) for v in (a, b, h0))
        want = jax.grad(loss(lambda a, b, h0: jax_loop_scan(a, b, h0, reverse)), (0, 1, 2))(*args)
        got = jax.grad(
            loss(lambda a, b, h0: linear_scan(a, b, h0, reverse=reverse, mode="pallas")),
            (0, 1, 2),
        )(*args)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-9, atol=1e-9)


def complex_draw(rng, length, n):
    lam = rng.uniform(0.5, 0.99, n) * np.exp(1j * rng.uniform(0, 2 * np.pi, n))
    return lam, rng.normal(size=(length, 2 * n))


def test_complex_scan_stacked_values_and_fused_backward():
    """n = 64: two programs of 32 states; batch 2 through vmap (a grid axis); reversed (the
    backward kernel's two directions are also tested from an initial state below)."""
    reverse = True
    rng = np.random.default_rng(1)
    n = 64
    with enable_x64():
        lam, b = complex_draw(rng, LENGTH, n)
        bs = np.stack([b, -0.5 * b])
        lr, li = jnp.asarray(lam.real), jnp.asarray(lam.imag)
        scan = jax.vmap(lambda b: complex_scan_stacked(lr, li, b, reverse=reverse, mode="pallas"))
        got = np.asarray(scan(jnp.asarray(bs)))
        for i in range(2):
            want = loop_scan(lam, bs[i, :, :n] + 1j * bs[i, :, n:], np.zeros(n, complex), reverse)
            np.testing.assert_allclose(got[i], np.concatenate([want.real, want.imag], -1),
                                       atol=1e-12)
        weights = jnp.asarray(rng.normal(size=bs.shape))

        def loss(lr, li, b):
            h = jax.vmap(lambda b: complex_scan_stacked(lr, li, b, reverse=reverse,
                                                        mode="pallas"))(b)
            return jnp.sum(weights * h**2)

        def loop_loss(lr, li, b):
            def one(b):
                h = jax_loop_scan(jax.lax.complex(lr, li), jax.lax.complex(b[:, :n], b[:, n:]),
                                  jnp.zeros(n, jnp.complex128), reverse)
                return jnp.concatenate([h.real, h.imag], -1)

            return jnp.sum(weights * jax.vmap(one)(b) ** 2)

        args = (lr, li, jnp.asarray(bs))
        for g, w in zip(jax.grad(loss, (0, 1, 2))(*args), jax.grad(loop_loss, (0, 1, 2))(*args),
                        strict=True):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-9, atol=1e-9)


def test_backward_kernel_with_initial_state():
    """pallas_complex_backward's dlambda includes the h0 pairing and dh0 = conj(lambda) adj_0:
    equal to jax.vjp of the loop started from h0 (n = 3: one-state programs)."""
    rng = np.random.default_rng(2)
    n = 3
    with enable_x64():
        for reverse in (False, True):
            lam, b = complex_draw(rng, LENGTH, n)
            h0 = rng.normal(size=(2, n))
            planes = lambda z: jnp.stack([z.real, z.imag])  # noqa: E731
            lam_p, h0_p = planes(jnp.asarray(lam)), jnp.asarray(h0)
            b_p = jnp.asarray(b.reshape(LENGTH, 2, n))
            h = pallas_scan.pallas_forward(lam_p, b_p, h0_p, reverse=reverse)
            want = loop_scan(lam, b_p[:, 0] + 1j * b_p[:, 1], h0[0] + 1j * h0[1], reverse)
            np.testing.assert_allclose(np.asarray(h[:, 0] + 1j * h[:, 1]), want, atol=1e-12)
            g = jnp.asarray(rng.normal(size=h.shape))
            adj, dlam, dh0 = pallas_scan.pallas_complex_backward(lam_p, h0_p, h, g,
                                                                 reverse=reverse)

            def loop(lam_p, b_p, h0_p, reverse=reverse):
                out = jax_loop_scan(jax.lax.complex(lam_p[0], lam_p[1]),
                                    jax.lax.complex(b_p[:, 0], b_p[:, 1]),
                                    jax.lax.complex(h0_p[0], h0_p[1]), reverse)
                return jnp.stack([out.real, out.imag], 1)

            _, vjp = jax.vjp(loop, lam_p, b_p, h0_p)
            for got, want in zip((dlam, adj, dh0), vjp(g), strict=True):
                np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-9,
                                           atol=1e-9)


def test_lru_layer_in_pallas_mode_equals_sequential():
    lru = lrux.LRU(4, 8, r_min=0.5, r_max=0.99, scan_mode="pallas", key=jax.random.key(0))
    ref = lrux.LRU(4, 8, r_min=0.5, r_max=0.99, scan_mode="sequential", key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (LENGTH, 4))
    got = eqx.filter_jit(lambda m, x: m(x))(lru, x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref(x)), rtol=1e-5, atol=1e-5)


def test_auto_never_picks_pallas_and_tpu_is_refused():
    """Not measured on a GPU yet: "auto" keeps the parallel scan there."""
    assert resolve_mode("auto", 4096, "gpu") == "parallel"
    assert resolve_mode("pallas", 4096, "gpu") == "pallas"
    assert resolve_mode("pallas", 4096, "cpu") == "pallas"
    with pytest.raises(ValueError, match="pallas"):
        resolve_mode("pallas", 4096, "tpu")
