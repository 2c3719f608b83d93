"""lrux.LRU against a float64 loop of paper.md section 1, written here from the equations."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jaxtyping
import numpy as np
import pytest
from conftest import enable_x64, make_as, native_param
from scipy import stats

import lrux
from lrux.errors import ConfigError
from lrux.layers.bidirectional import Bidirectional, SharedBidirectional


def lru_loop(params, u, reverse=False):
    """x_k = diag(lambda) x_{k-1} + gamma (B u_k), y_k = Re(C x_k) + D u_k, in complex128."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    lam = np.exp(-np.exp(p["nu_log"]) + 1j * np.exp(p["theta_log"]))
    gamma = np.exp(p["gamma_log"])
    B = p["B_re"] + 1j * p["B_im"]
    C = p["C_re"] + 1j * p["C_im"]
    u = np.asarray(u, np.float64)
    x = np.zeros(lam.shape, np.complex128)
    y = np.zeros(u.shape)
    order = range(len(u) - 1, -1, -1) if reverse else range(len(u))
    for k in order:
        x = lam * x + gamma * (B @ u[k])
        y[k] = (C @ x).real + p["D"] * u[k]
    return y


def params_of(lru):
    names = ["nu_log", "theta_log", "gamma_log", "B_re", "B_im", "C_re", "C_im", "D"]
    return {n: getattr(lru, n) for n in names}


@pytest.mark.parametrize("mode", native_param("sequential", "parallel", "chunked", "auto"))
def test_lru_matches_float64_loop(mode):
    lru = lrux.LRU(
        6, 10, r_min=0.5, r_max=0.99, max_phase=math.pi, scan_mode=mode, key=jax.random.key(0)
    )
    u = np.random.default_rng(0).normal(size=(130, 6)).astype(np.float32)
    want = lru_loop(params_of(lru), u)
    np.testing.assert_allclose(np.asarray(lru(jnp.asarray(u))), want, rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(
        np.asarray(lru.reverse(jnp.asarray(u))),
        lru_loop(params_of(lru), u, reverse=True),
        rtol=2e-4,
        atol=2e-4,
    )


def test_lru_float64_exact():
    with enable_x64():
        lru = lrux.LRU(3, 5, key=jax.random.key(1))
        assert lru.nu_log.dtype == jnp.float64
        u = np.random.default_rng(1).normal(size=(40, 3))
        np.testing.assert_allclose(
            np.asarray(lru(jnp.asarray(u))), lru_loop(params_of(lru), u), rtol=1e-11, atol=1e-11
        )


def test_step_equals_call():
    lru = lrux.LRU(4, 8, r_min=0.9, r_max=0.999, key=jax.random.key(2))
    u = jax.random.normal(jax.random.key(3), (64, 4))
    full = lru(u)

    def body(state, u_t):
        return lru.step(state, u_t)

    _, stepped = jax.lax.scan(body, lru.init_state(), u)
    np.testing.assert_allclose(np.asarray(stepped), np.asarray(full), rtol=1e-5, atol=1e-5)
    assert lru.init_state().shape == (8,) and jnp.iscomplexobj(lru.init_state())


def test_initialisation_follows_the_paper():
    d_model, d_state = 64, 4000
    lru = lrux.LRU(
        d_model, d_state, r_min=0.4, r_max=0.9, max_phase=math.pi / 2, key=jax.random.key(4)
    )
    lam = np.asarray(lru.eigenvalues(), np.complex128)
    # Lemma 2: |lambda|^2 ~ U[r_min^2, r_max^2], phase ~ U[0, max_phase] (KS tests, n=4000).
    r2 = np.abs(lam) ** 2
    assert stats.kstest(r2, stats.uniform(0.16, 0.81 - 0.16).cdf).pvalue > 1e-3
    phase = np.angle(lam) % (2 * np.pi)
    assert stats.kstest(phase, stats.uniform(0, np.pi / 2).cdf).pvalue > 1e-3
    # gamma = sqrt(1 - |lambda|^2) exactly at init.
    np.testing.assert_allclose(np.exp(np.asarray(lru.gamma_log)), np.sqrt(1 - r2), rtol=1e-4)
    # B entries N(0, 1/(2H)), C entries N(0, 1/N), D ~ N(0, 1): standard deviations within 3%.
    np.testing.assert_allclose(np.std(lru.B_re), 1 / math.sqrt(2 * d_model), rtol=0.03)
    np.testing.assert_allclose(np.std(lru.B_im), 1 / math.sqrt(2 * d_model), rtol=0.03)
    np.testing.assert_allclose(np.std(lru.C_re), 1 / math.sqrt(d_state), rtol=0.03)
    np.testing.assert_allclose(np.std(lru.C_im), 1 / math.sqrt(d_state), rtol=0.03)
    assert lru.B_re.shape == (d_state, d_model) and lru.C_re.shape == (d_model, d_state)


def test_default_ring_is_the_uniform_disk():
    lam = np.asarray(lrux.LRU(2, 4000, key=jax.random.key(5)).eigenvalues())
    assert stats.kstest(np.abs(lam) ** 2, "uniform").pvalue > 1e-3
    assert stats.kstest(np.angle(lam) % (2 * np.pi), stats.uniform(0, 2 * np.pi).cdf).pvalue > 1e-3


def test_eigenvalues_inside_unit_disk_for_any_parameters():
    lru = lrux.LRU(2, 1000, key=jax.random.key(6))
    rng = np.random.default_rng(6)
    nu_log = jnp.asarray(rng.normal(scale=8.0, size=1000), jnp.float32)
    theta_log = jnp.asarray(rng.normal(scale=8.0, size=1000), jnp.float32)
    lru = eqx.tree_at(lambda m: (m.nu_log, m.theta_log), lru, (nu_log, theta_log))
    # float32: |lambda| <= 1 up to the rounding of cos/sin (exp(-exp(.)) itself is <= 1).
    assert float(jnp.max(jnp.abs(lru.eigenvalues()))) <= 1.0 + 2e-7
    with enable_x64():
        lru64 = eqx.tree_at(
            lambda m: (m.nu_log, m.theta_log),
            lru,
            (jnp.asarray(nu_log, jnp.float64), jnp.asarray(theta_log, jnp.float64)),
        )
        modulus = np.abs(np.asarray(lru64.eigenvalues()))
        # strictly inside wherever exp(nu_log) is resolvable in float64
        resolvable = np.exp(np.asarray(nu_log, np.float64)) > 1e-15
        assert np.all(modulus[resolvable] < 1.0) and np.all(modulus <= 1.0 + 1e-15)


def test_jit_vmap_grad():
    lru = lrux.LRU(5, 7, key=jax.random.key(7))
    u = jax.random.normal(jax.random.key(8), (3, 20, 5))
    batched = jax.jit(jax.vmap(lru))(u)
    for i in range(3):
        np.testing.assert_allclose(
            np.asarray(batched[i]), lru_loop(params_of(lru), u[i]), rtol=2e-4, atol=2e-4
        )

    @eqx.filter_jit
    @eqx.filter_grad
    def grads(model):
        return jnp.mean(jax.vmap(model)(u) ** 2)

    g = grads(lru)
    for name in params_of(lru):
        leaf = getattr(g, name)
        assert leaf.shape == getattr(lru, name).shape
        assert bool(jnp.all(jnp.isfinite(leaf))) and float(jnp.abs(leaf).max()) > 0


@pytest.mark.parametrize("mode", native_param("chunked"))
def test_parameter_gradients_match_loop_gradients(mode):
    """Gradients through the custom-VJP scan equal jax.grad of a plain per-step loop."""
    with enable_x64():
        lru = lrux.LRU(3, 4, r_min=0.5, r_max=0.95, scan_mode=mode, key=jax.random.key(9))
        u = jax.random.normal(jax.random.key(10), (25, 3))

        def loop_model(p, u):
            lam = jnp.exp(-jnp.exp(p["nu_log"]) + 1j * jnp.exp(p["theta_log"]))
            B = (p["B_re"] + 1j * p["B_im"]) * jnp.exp(p["gamma_log"])[:, None]
            C = p["C_re"] + 1j * p["C_im"]

            def step(x, u_k):
                x = lam * x + B @ u_k
                return x, (C @ x).real + p["D"] * u_k

            return jax.lax.scan(step, jnp.zeros(4, jnp.complex128), u)[1]

        target = jax.random.normal(jax.random.key(11), (25, 3))
        want = jax.grad(lambda p: jnp.sum((loop_model(p, u) - target) ** 2))(params_of(lru))

        def loss(model):
            return jnp.sum((model(u) - target) ** 2)

        got = eqx.filter_grad(loss)(lru)
        for name, w in want.items():
            np.testing.assert_allclose(
                np.asarray(getattr(got, name)), np.asarray(w), rtol=1e-8, atol=1e-10
            )


def test_shapes_enforced_and_bad_input():
    lru = lrux.LRU(4, 8, key=jax.random.key(12))
    with pytest.raises((ValueError, TypeError), match="seq"):
        lru(jnp.zeros((10, 5)))
    with pytest.raises((ValueError, TypeError), match=r"vmap|seq"):
        lru(jnp.zeros((2, 10, 4)))
    with pytest.raises((ValueError, TypeError)):
        lru.step(lru.init_state(), jnp.zeros(5))
    with pytest.raises(ValueError, match="r_min must be <= r_max"):
        lrux.LRU(4, 8, r_min=0.9, r_max=0.5, key=jax.random.key(0))
    with pytest.raises(ValueError, match="r_max must be <= 1"):
        lrux.LRU(4, 8, r_max=1.5, key=jax.random.key(0))
    with pytest.raises(ValueError, match="d_state must be a positive int"):
        lrux.LRU(4, 0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="d_model must be a positive int"):
        lrux.LRU(-1, 8, key=jax.random.key(0))
    with pytest.raises(ValueError, match="max_phase"):
        lrux.LRU(4, 8, max_phase=0.0, key=jax.random.key(0))
    # a value outside the Literal: TypeCheckError under the test run's jaxtyping hook
    with pytest.raises((ValueError, jaxtyping.TypeCheckError), match="scan_mode"):
        lrux.LRU(4, 8, scan_mode="fastest", key=jax.random.key(0))  # type: ignore[arg-type]


@pytest.mark.parametrize("combine", ["concat", "sum"])
def test_bidirectional_wrapper(combine):
    bi = Bidirectional.from_factory(
        lambda k: lrux.LRU(3, 6, key=k), 3, combine=combine, key=jax.random.key(13)
    )
    u = np.random.default_rng(13).normal(size=(30, 3)).astype(np.float32)
    y_fwd = lru_loop(params_of(bi.forward), u)
    y_bwd = lru_loop(params_of(bi.backward), u, reverse=True)
    if combine == "sum":
        want = y_fwd + y_bwd
    else:
        assert bi.proj is not None
        w, b = np.asarray(bi.proj.weight, np.float64), np.asarray(bi.proj.bias, np.float64)
        want = np.concatenate([y_fwd, y_bwd], axis=-1) @ w.T + b
    np.testing.assert_allclose(np.asarray(bi(jnp.asarray(u))), want, rtol=3e-4, atol=3e-4)
    assert not hasattr(bi, "init_state") and not hasattr(bi, "step")  # no step mode
    with pytest.raises((ValueError, jaxtyping.TypeCheckError), match="combine"):
        Bidirectional.from_factory(
            lambda k: lrux.LRU(3, 6, key=k), 3, combine="max", key=jax.random.key(0)  # type: ignore
        )


def shared_bidirectional_loop(params, u):
    """One lambda, gamma, B; x forward and x' backward over the same gamma B u; y = Re(C x)
    + Re(C2 x') + D u, in complex128."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    lam = np.exp(-np.exp(p["nu_log"]) + 1j * np.exp(p["theta_log"]))
    b = np.exp(p["gamma_log"])[:, None] * (p["B_re"] + 1j * p["B_im"])
    bu = np.asarray(u, np.float64) @ b.T
    c = p["C_re"] + 1j * p["C_im"]
    c2 = p["C2_re"] + 1j * p["C2_im"]
    y = np.asarray(u, np.float64) * p["D"]
    x = np.zeros(lam.shape, np.complex128)
    for k in range(len(u)):
        x = lam * x + bu[k]
        y[k] += (c @ x).real
    x = np.zeros(lam.shape, np.complex128)
    for k in reversed(range(len(u))):
        x = lam * x + bu[k]
        y[k] += (c2 @ x).real
    return y


@pytest.mark.parametrize("mode", native_param("sequential", "chunked"))
def test_shared_bidirectional_lru_matches_float64_loop(mode):
    bi = make_as(SharedBidirectional, "lru", 4, 6, r_min=0.6, r_max=0.95, scan_mode=mode,
                 bidirectional=True, combine="shared", key=jax.random.key(20))
    u = np.random.default_rng(20).normal(size=(70, 4)).astype(np.float32)
    params = {**params_of(bi.mixer), "C2_re": bi.backward_readout["C_re"],
              "C2_im": bi.backward_readout["C_im"]}
    want = shared_bidirectional_loop(params, u)
    np.testing.assert_allclose(np.asarray(bi(jnp.asarray(u))), want, rtol=2e-4, atol=2e-4)
    # anti-causal: the last input reaches the first output
    assert not np.allclose(np.asarray(bi(jnp.asarray(u).at[-1].add(1.0)))[0], want[0])


def test_shared_bidirectional_lru_with_zero_c2_is_the_forward_lru():
    key = jax.random.key(21)
    bi = make_as(SharedBidirectional, "lru", 3, 5, key=key, bidirectional=True,
                 combine="shared")
    causal = lrux.LRU(3, 5, key=key)
    for name, value in params_of(causal).items():  # the same arrays for the same key
        np.testing.assert_array_equal(np.asarray(getattr(bi.mixer, name)), np.asarray(value))
    assert not hasattr(causal, "C2_re") and bi.backward_readout["C_re"].shape == (3, 5)
    big = make_as(SharedBidirectional, "lru", 16, 1000, key=key, bidirectional=True,
                  combine="shared")
    for part in big.backward_readout.values():  # C2 ~ N(0, 1/N) like C
        np.testing.assert_allclose(np.std(np.asarray(part)), 1 / math.sqrt(1000), rtol=0.03)
    zero = eqx.tree_at(lambda m: (m.backward_readout["C_re"], m.backward_readout["C_im"]), bi,
                       (jnp.zeros((3, 5)), jnp.zeros((3, 5))))
    u = jax.random.normal(jax.random.key(22), (30, 3))
    np.testing.assert_allclose(np.asarray(zero(u)), np.asarray(causal(u)), rtol=1e-6, atol=1e-6)
    # reads the whole sequence: no step mode, no linear system (not causal)
    assert not any(hasattr(bi, a) for a in ("init_state", "step", "linear_system"))


def test_registry_builds_the_lru_and_rejects_unknown_names():
    lru = lrux.make_mixer("lru", 4, 8, key=jax.random.key(14), r_min=0.9, r_max=0.99)
    assert isinstance(lru, lrux.LRU)
    assert float(jnp.min(jnp.abs(lru.eigenvalues()))) >= 0.9 - 1e-6
    with pytest.raises(ConfigError, match="unknown mixer 'lru2'"):
        lrux.make_mixer("lru2", 4, 8, key=jax.random.key(0))


def test_registry_bidirectional_forms():
    """S5 defaults to its own shared form; the LRU to two LRUs concatenated, or shared."""
    key = jax.random.key(15)
    s5 = lrux.make_mixer("s5", 4, 8, key=key, bidirectional=True)
    assert isinstance(s5, SharedBidirectional) and type(s5.mixer).__name__ == "S5"
    wrapped = lrux.make_mixer("lru", 4, 8, key=key, bidirectional=True)
    assert isinstance(wrapped, Bidirectional) and wrapped.combine == "concat"
    shared = lrux.make_mixer("lru", 4, 8, key=key, bidirectional=True, combine="shared")
    assert isinstance(shared, SharedBidirectional) and isinstance(shared.mixer, lrux.LRU)
    summed = lrux.make_mixer("s5", 4, 8, key=key, bidirectional=True, combine="sum")
    assert isinstance(summed, Bidirectional) and type(summed.forward).__name__ == "S5"
    with pytest.raises(ConfigError, match=r"'gru' has no bidirectional form 'shared'.*concat, sum"):
        lrux.make_mixer("gru", 4, 8, key=key, bidirectional=True, combine="shared")
