"""lrux.kernels' stacked complex scan with an initial state and in place, against a float64
loop and jax.grad of that loop (the kernel's build and batching are tested in test_scan.py)."""

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
