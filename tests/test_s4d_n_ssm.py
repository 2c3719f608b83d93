"""S4D's `n_ssm` (s4's shared (A, B) groups): channel h uses pair h mod n_ssm, as s4's
`repeat(A, 't n -> (v t) n')` (s4 b5dae46 src/models/sequence/ss/kernel.py:768,776), checked
against a float64 loop written here and against the untied layer's gradients."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrux.layers.s4d import S4D


def _np(a):
    return np.asarray(a, dtype=np.float64)


def recurrence_np(layer, u, n_ssm):
    """y_t per channel h with A, B of row h mod n_ssm, by the textbook formulas in float64."""
    h = np.arange(layer.d_model) % n_ssm
    a = (-np.exp(_np(layer.A_re_log)) + 1j * _np(layer.A_im))[h]
    b = (_np(layer.B_re) + 1j * _np(layer.B_im))[h]
    dt = np.exp(_np(layer.log_dt))[:, None]
    if layer.discretization == "zoh":
        lbar = np.exp(dt * a)
        bbar = (lbar - 1) / a * b
    else:
        lbar = (1 + dt * a / 2) / (1 - dt * a / 2)
        bbar = dt * b / (1 - dt * a / 2)
    c = _np(layer.C_re) + 1j * _np(layer.C_im)
    x = np.zeros(lbar.shape, complex)
    ys = []
    for t in range(u.shape[0]):
        x = lbar * x + bbar * _np(u[t])[:, None]
        ys.append(2 * (c * x).sum(-1).real + _np(layer.D) * _np(u[t]))
    return np.stack(ys)


def _distinct(layer, key):
    """The layer with different A, B in every group (the init repeats one row)."""
    k1, k2, k3 = jax.random.split(key, 3)
    shape = layer.A_re_log.shape
    return eqx.tree_at(
        lambda m: (m.A_re_log, m.A_im, m.B_im),
        layer,
        (layer.A_re_log + 0.3 * jax.random.normal(k1, shape),
         layer.A_im + jax.random.normal(k2, shape), jax.random.normal(k3, shape)),
    )


@pytest.mark.parametrize("disc", ["zoh", "bilinear"])
def test_shared_groups_call_and_step_match_float64_loop(disc):
    layer = S4D(6, 8, n_ssm=2, discretization=disc, key=jax.random.key(0))
    assert layer.A_re_log.shape == (2, 4) and layer.B_re.shape == (2, 4)
    assert layer.C_re.shape == (6, 4) and layer.log_dt.shape == (6,)
    layer = _distinct(layer, jax.random.key(5))
    u = jax.random.normal(jax.random.key(1), (29, 6))
    ref = recurrence_np(layer, u, 2)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(_np(layer(u)), ref, atol=2e-5 * scale)
    state, ys = layer.init_state(), []
    for t in range(u.shape[0]):
        state, y = layer.step(state, u[t])
        ys.append(y)
    np.testing.assert_allclose(_np(jnp.stack(ys)), ref, atol=2e-5 * scale)


def test_shared_parameters_get_the_sum_of_their_channels_gradients():
    """Tied A, B: the gradient of each group's row is the sum of the untied layer's gradients
    over the channels h = g, g + n_ssm, ... (the chain rule of the tie)."""
    tied = _distinct(S4D(6, 8, n_ssm=3, key=jax.random.key(2)), jax.random.key(7))
    rows = np.arange(6) % 3
    untied = eqx.tree_at(
        lambda m: (m.A_re_log, m.A_im, m.B_re, m.B_im),
        S4D(6, 8, key=jax.random.key(2)),
        tuple(getattr(tied, n)[rows] for n in ("A_re_log", "A_im", "B_re", "B_im")),
    )
    untied = eqx.tree_at(lambda m: (m.C_re, m.C_im, m.D, m.log_dt), untied,
                         (tied.C_re, tied.C_im, tied.D, tied.log_dt))
    u = jax.random.normal(jax.random.key(3), (17, 6))
    loss = lambda m: jnp.sum(jnp.sin(m(u)))
    np.testing.assert_allclose(_np(tied(u)), _np(untied(u)), rtol=1e-6, atol=1e-6)
    g_tied, g_untied = jax.grad(loss)(tied), jax.grad(loss)(untied)
    for name in ("A_re_log", "A_im", "B_re", "B_im"):
        per_channel = _np(getattr(g_untied, name))
        summed = np.stack([per_channel[rows == g].sum(0) for g in range(3)])
        np.testing.assert_allclose(_np(getattr(g_tied, name)), summed, rtol=1e-4, atol=1e-5)


def test_n_ssm_default_is_one_pair_per_channel_and_bad_values_are_refused():
    layer = S4D(4, 8, key=jax.random.key(0))
    assert layer.n_ssm == 4 and layer.A_re_log.shape == (4, 4)
    for bad in (0, 3, 8, -2):
        with pytest.raises(ValueError, match="n_ssm"):
            S4D(4, 8, n_ssm=bad, key=jax.random.key(0))
