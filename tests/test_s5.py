"""S5: parallel-scan path and step against a float64 numpy recurrence written here."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jaxtyping
import numpy as np
import pytest

from lrux.layers.bidirectional import SharedBidirectional
from lrux.layers.s4d import S4D
from lrux.layers.s5 import S5, hippo_n_blocks
from lrux.registry import make_mixer


def _np(a):
    return np.asarray(a, dtype=np.float64)


def _s5(d_model, d_state, *, key, bidirectional=False, **options):
    """An S5, or S5's shared bidirectional form (`SharedBidirectional` around it)."""
    if not bidirectional:
        return S5(d_model, d_state, key=key, **options)
    return SharedBidirectional.from_factory(lambda k: S5(d_model, d_state, key=k, **options),
                                            key=key)


def s5_np(layer, u):
    """float64 forward (and, if bidirectional, backward) loops from the layer's parameters."""
    c2 = None
    if isinstance(layer, SharedBidirectional):
        layer, c2 = layer.mixer, layer.backward_readout
    assert isinstance(layer, S5)
    re = _np(layer.Lambda_re)
    if layer.clip_eigs:
        re = np.minimum(re, -1e-4)
    lam = re + 1j * _np(layer.Lambda_im)
    b = _np(layer.B_re) + 1j * _np(layer.B_im)
    dt = np.exp(_np(layer.log_dt)) * layer.step_rescale
    if layer.discretization == "zoh":
        lbar = np.exp(dt * lam)
        bbar = ((lbar - 1) / lam)[:, None] * b
    else:
        lbar = (1 + dt * lam / 2) / (1 - dt * lam / 2)
        bbar = (dt / (1 - dt * lam / 2))[:, None] * b
    scale = 2.0 if layer.conj_sym else 1.0
    u = _np(u)
    length = u.shape[0]

    def run(order, c):
        x = np.zeros(lam.shape, complex)
        out = np.zeros((length, u.shape[1]))
        for t in order:
            x = lbar * x + bbar @ u[t]
            out[t] = scale * (c @ x).real
        return out

    y = run(range(length), _np(layer.C_re) + 1j * _np(layer.C_im)) + _np(layer.D) * u
    if c2 is not None:
        y = y + run(range(length - 1, -1, -1), _np(c2["C_re"]) + 1j * _np(c2["C_im"]))
    return y


CONFIGS = [
    {},
    {"blocks": 2},
    {"conj_sym": False},
    {"discretization": "bilinear", "c_init": "complex_normal"},
    {"clip_eigs": True, "step_rescale": 2.0},
    {"bidirectional": True},
]


@pytest.mark.parametrize("options", CONFIGS, ids=lambda o: ",".join(o) or "default")
def test_call_and_step_match_float64_recurrence(options):
    layer = _s5(3, 8, key=jax.random.key(0), **options)
    u = jax.random.normal(jax.random.key(1), (41, 3))
    ref = s5_np(layer, u)
    tol = 1e-5 * np.abs(ref).max()  # float32 scan vs float64 loop
    np.testing.assert_allclose(_np(layer(u)), ref, atol=tol)
    if isinstance(layer, SharedBidirectional):  # reads the whole sequence: no step mode
        assert not hasattr(layer, "init_state") and not hasattr(layer, "step")
        return
    state = layer.init_state()
    step = eqx.filter_jit(layer.step)
    ys = []
    for t in range(u.shape[0]):
        state, y = step(state, u[t])
        ys.append(y)
    np.testing.assert_allclose(_np(jnp.stack(ys)), ref, atol=tol)


@pytest.mark.parametrize("mode", ["sequential", "parallel", "chunked"])
def test_scan_modes_agree(mode):
    layer = _s5(2, 6, key=jax.random.key(2), scan_mode=mode, bidirectional=True)
    u = jax.random.normal(jax.random.key(3), (100, 2))
    ref = s5_np(layer, u)
    np.testing.assert_allclose(_np(layer(u)), ref, atol=1e-5 * np.abs(ref).max())


def test_hippo_n_init():
    p, blocks = 12, 2
    layer = S5(4, p, blocks=blocks, key=jax.random.key(0))
    size = p // blocks
    # normal part of HiPPO-LegS of the block size, from its closed form
    n = np.arange(size)
    q = np.sqrt(2 * n + 1.0)
    s = 0.5 * np.tril(-np.outer(q, q), -1) + 0.5 * np.triu(np.outer(q, q), 1)
    eig = np.linalg.eigvals(-0.5 * np.eye(size) + s)
    kept = eig[eig.imag < 0]
    kept = kept[np.argsort(kept.imag)]
    got = _np(layer.Lambda_re) + 1j * _np(layer.Lambda_im)
    assert got.shape == (p // 2,)
    for j in range(blocks):
        block = got[j * size // 2 : (j + 1) * size // 2]
        np.testing.assert_allclose(block[np.argsort(block.imag)], kept, atol=1e-5)
    # Bt = V^-1 B with B real: the kept half plus its conjugates give back B, truncated at
    # two standard deviations and rescaled to variance 1/P (jax's lecun_normal: the
    # standard normal truncated to [-2, 2] has std 0.8796); V^-1 = V^* blockwise, so
    # B = 2 Re(V Bt).
    _, v, _ = hippo_n_blocks(p, blocks, True)
    bt = _np(layer.B_re) + 1j * _np(layer.B_im)
    b = v @ bt
    assert np.abs(2 * b.real).max() <= 2.0 / (0.87962566 * np.sqrt(p)) + 1e-5
    assert 0.5 / p < np.var(2 * b.real) < 2.0 / p
    dt = np.exp(_np(layer.log_dt))
    assert dt.shape == (p // 2,) and np.all((dt > 0.001 - 1e-9) & (dt < 0.1 + 1e-9))


TRUNC_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]


@pytest.mark.parametrize("c_init, fan_in", [("trunc_standard_normal", "P"), ("lecun_normal", "HP")])
def test_c_init_variance_as_in_s5(c_init, fan_in):
    """S5's C is drawn as (H, P, 2) real and imaginary parts by jax's lecun_normal, on each
    (1, P, 2) channel block (trunc_standard_normal: fan-in P) or on the whole array
    (lecun_normal: fan-in H * P, variance 1/(H P)); then Ct = C V."""
    h, p = 48, 64
    layer = S5(h, p, conj_sym=False, key=jax.random.key(9), c_init=c_init)
    # conj_sym=False keeps all P modes: V is unitary and C = Ct V^* recovers the draw
    _, v, _ = hippo_n_blocks(p, 1, False)
    c = (_np(layer.C_re) + 1j * _np(layer.C_im)) @ v.conj().T
    want = 1.0 / np.sqrt(p if fan_in == "P" else h * p)
    for part in (c.real, c.imag):
        assert np.std(part) == pytest.approx(want, rel=0.03)
        assert np.abs(part).max() <= 2.0 * want / TRUNC_STD * (1 + 1e-4)  # truncated at 2 sigma
    # with conjugate symmetry Ct = C V[:, :P/2]: E|Ct|^2 = |V col|^2 (2 / fan-in) = 2 / fan-in
    sym = S5(h, p, key=jax.random.key(9), c_init=c_init)
    power = np.mean(_np(sym.C_re) ** 2 + _np(sym.C_im) ** 2)
    assert power == pytest.approx(2 * want**2, rel=0.05)


def test_s5_with_diagonal_b_c_is_siso_s4d():
    """One state per channel, diagonal B and C: S5 becomes H independent SISO systems."""
    h = 4
    s5 = S5(h, h, conj_sym=False, key=jax.random.key(0))
    s4d = S4D(h, 2, key=jax.random.key(1))  # one complex mode per channel, output 2 Re
    rng = np.random.default_rng(0)
    lam = -rng.uniform(0.2, 1.0, h) + 1j * rng.uniform(-3, 3, h)
    b = rng.normal(size=h) + 1j * rng.normal(size=h)
    c = rng.normal(size=h) + 1j * rng.normal(size=h)
    log_dt = np.log(rng.uniform(0.01, 0.2, h))
    f32 = lambda v: jnp.asarray(v, jnp.float32)
    s5 = eqx.tree_at(
        lambda m: (m.Lambda_re, m.Lambda_im, m.B_re, m.B_im, m.C_re, m.C_im, m.log_dt, m.D),
        s5,
        (
            f32(lam.real),
            f32(lam.imag),
            f32(np.diag(b.real)),
            f32(np.diag(b.imag)),
            f32(np.diag(c.real)),
            f32(np.diag(c.imag)),
            f32(log_dt),
            s4d.D,
        ),
    )
    s4d = eqx.tree_at(
        lambda m: (m.A_re_log, m.A_im, m.B_re, m.B_im, m.C_re, m.C_im, m.log_dt),
        s4d,
        tuple(f32(v[:, None]) for v in (np.log(-lam.real), lam.imag, b.real, b.imag))
        + (f32(c.real[:, None] / 2), f32(c.imag[:, None] / 2), f32(log_dt)),
    )
    u = jax.random.normal(jax.random.key(2), (64, h))
    y5, y4 = _np(s5(u)), _np(s4d(u))
    # scan vs FFT convolution, both float32: agree to 1e-5 of the output scale
    np.testing.assert_allclose(y5, y4, atol=1e-5 * np.abs(y4).max())


def test_gradients_finite():
    layer = _s5(3, 8, key=jax.random.key(0), bidirectional=True)
    assert isinstance(layer, SharedBidirectional)
    u = jax.random.normal(jax.random.key(1), (20, 3))
    grads = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(m(u) ** 2)))(layer)
    named = {n: getattr(grads.mixer, n) for n in
             ["Lambda_re", "Lambda_im", "B_re", "B_im", "C_re", "C_im", "D", "log_dt"]}
    named["C2_re"] = grads.backward_readout["C_re"]
    for name, g in named.items():
        g = np.asarray(g)
        assert np.all(np.isfinite(g)) and np.any(g != 0), name
    for name in S5.recurrent_params:
        assert hasattr(layer.mixer, name)


def test_bad_inputs():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="blocks"):
        S5(3, 8, blocks=3, key=key)
    with pytest.raises(ValueError, match="block size"):
        S5(3, 6, blocks=2, key=key)  # blocks of 3: odd with conj_sym
    # a value outside an option's Literal: TypeCheckError under the test run's jaxtyping hook
    bad_option = (ValueError, jaxtyping.TypeCheckError)
    with pytest.raises(bad_option, match="discretization"):
        S5(3, 8, discretization="euler", key=key)  # type: ignore[arg-type]
    with pytest.raises(bad_option, match="c_init"):
        S5(3, 8, c_init="zeros", key=key)  # type: ignore[arg-type]
    with pytest.raises(bad_option, match="scan_mode"):
        S5(3, 8, scan_mode="fast", key=key)  # type: ignore[arg-type]
    layer = S5(3, 8, key=key)
    with pytest.raises((ValueError, jaxtyping.TypeCheckError), match="d_model"):
        layer(jnp.zeros((2, 5, 3)))


def test_registry_builds_s5():
    layer = make_mixer("s5", 3, 8, key=jax.random.key(0), blocks=2)
    assert isinstance(layer, S5) and layer.blocks == 2
    assert layer(jnp.ones((5, 3))).shape == (5, 3)
