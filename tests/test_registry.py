"""The contract tests of every mixer in `lrux.registry.MIXERS` (the memorax habit), chosen
by the mixer's type (`lrux.layers.base`), never by its name.

For each registered name: output shape and dtype, jit == eager, vmap == a loop over the
batch, finite gradients that reach the recurrent parameters, `recurrent_params` naming real
fields (possibly none), the dtype contract (int, float16, bfloat16 and length-0 input), and
the entry's facts (its class, options, ring, length option). A recurrent mixer
(`AbstractRecurrentMixer`) is also causal, its step mode equals the full call and it has the
two-mixer bidirectional forms; a linear one (`AbstractLinearMixer`) has a kernel equal to
its measured impulse response; a diagonal one (`AbstractDiagonalMixer`) a diagonal A and
shared bidirectional forms equal to a float64 numpy loop over its linear system. The checks
are plain functions of a registered name, so a mixer registered only for a test's duration
gets the same ones (tests/test_adding_a_mixer.py).
"""

import dataclasses
import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import enable_x64, make_as

from lrux.errors import ConfigError
from lrux.layers.base import (
    AbstractDiagonalMixer,
    AbstractLinearMixer,
    AbstractMixer,
    AbstractRecurrentMixer,
)
from lrux.layers.bidirectional import Bidirectional, SharedBidirectional
from lrux.layers.diagonal import DiagonalRNN
from lrux.layers.lru import LRU
from lrux.layers.rnn import GRU
from lrux.registry import (
    MIXERS,
    MixerEntry,
    families,
    forms_of,
    make_mixer,
    mixer_class,
    mixer_entry,
    mixer_names,
    register_mixer,
)

H, N, L, BATCH = 4, 8, 12, 3
NAMES = mixer_names()


def _mixer(name: str, seed: int = 0, **kw):
    return make_mixer(name, H, N, key=jax.random.key(seed), **kw)


def _x(seed: int = 0, shape=(L, H)) -> jax.Array:
    return jax.random.normal(jax.random.key(1000 + seed), shape)


def _close(a, b, rtol=1e-4):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, float(np.abs(b).max())))


# ------------------------------------------------------------------------------ the checks


def check_shapes_jit_vmap(name):
    m = _mixer(name)
    x = _x(1)
    y = m(x)  # eager
    assert y.shape == (L, H), f"{name}: {y.shape}"
    assert y.dtype == jnp.float32, f"{name}: {y.dtype}"
    assert bool(jnp.all(jnp.isfinite(y)))
    call = eqx.filter_jit(lambda mod, u: mod(u))
    _close(call(m, x), y)
    xb = _x(2, (BATCH, L, H))
    yb = eqx.filter_jit(lambda mod, u: jax.vmap(mod)(u))(m, xb)
    assert yb.shape == (BATCH, L, H)
    for i in range(BATCH):
        _close(yb[i], call(m, xb[i]))
    if isinstance(m, AbstractRecurrentMixer):  # causal: no output at k depends on inputs after k
        _close(call(m, x.at[L // 2 :].set(0.0))[: L // 2], y[: L // 2])


def check_gradients_finite(name):
    m = _mixer(name, seed=3)
    xb = _x(4, (BATCH, L, H))
    grads = eqx.filter_jit(eqx.filter_grad(lambda mod: jnp.mean(jax.vmap(mod)(xb) ** 2)))(m)
    leaves = jax.tree_util.tree_leaves_with_path(eqx.filter(grads, eqx.is_array))
    assert leaves, f"{name}: no differentiable parameters"
    for path, g in leaves:
        assert bool(jnp.all(jnp.isfinite(g))), f"{name}: non-finite gradient at {path}"
    for field in type(m).recurrent_params:
        g = getattr(grads, field)
        if g is None:  # a field of an unused option (e.g. DiagonalRNN's other lambdas)
            continue
        norm = sum(float(jnp.abs(leaf).sum()) for leaf in jax.tree_util.tree_leaves(g))
        assert norm > 0.0, f"{name}: zero gradient for recurrent parameter {field}"


def check_step_equals_call(name):
    m = _mixer(name, seed=5)
    if not isinstance(m, AbstractRecurrentMixer):  # reads whole sequences: no step at all
        assert not hasattr(m, "step") and not hasattr(m, "init_state"), name
        return
    x = _x(6)

    @eqx.filter_jit
    def run_steps(mod, u):
        return jax.lax.scan(lambda s, u_t: mod.step(s, u_t), mod.init_state(), u)[1]

    ys = run_steps(m, x)
    assert ys.shape == (L, H)
    _close(ys, m(x))


def check_recurrent_params_are_fields(name):
    m = _mixer(name)
    assert isinstance(m, AbstractMixer), f"{name}: not an AbstractMixer"
    names = type(m).recurrent_params
    assert isinstance(names, tuple) and all(isinstance(n, str) for n in names), (
        f"{name}: recurrent_params must be a tuple of field names (() when none)")
    fields = {f.name for f in dataclasses.fields(m)}
    assert set(names) <= fields, f"{name}: {set(names) - fields} are not fields"
    present = [getattr(m, f) for f in names if getattr(m, f) is not None]
    assert (present or not names) and all(
        eqx.is_array(leaf) and jnp.issubdtype(leaf.dtype, jnp.floating)
        for p in present
        for leaf in jax.tree_util.tree_leaves(p)
    ), f"{name}: recurrent params must be real arrays"


def check_bidirectional_forms(name):
    entry = mixer_entry(name)
    layer = entry.layer
    assert set(entry.combines) == set(forms_of(layer)), name  # derived from the type
    assert ("concat" in entry.combines) == issubclass(layer, AbstractRecurrentMixer), name
    assert ("shared" in entry.combines) == issubclass(layer, AbstractDiagonalMixer), name
    if not entry.combines:
        with pytest.raises(ConfigError, match="has no bidirectional form"):
            make_mixer(name, H, N, key=jax.random.key(7), bidirectional=True)
        return
    call = eqx.filter_jit(lambda mod, u: mod(u))
    x = _x(8)
    default = make_mixer(name, H, N, key=jax.random.key(7), bidirectional=True)
    assert isinstance(default, Bidirectional | SharedBidirectional), name
    assert default.combine == entry.combines[0], f"{name}: default form {default.combine}"
    for combine in entry.combines:
        m = make_mixer(name, H, N, key=jax.random.key(7), bidirectional=True, combine=combine)
        want = Bidirectional if combine in ("concat", "sum") else SharedBidirectional
        assert type(m) is want and m.combine == combine, (name, combine)
        assert not hasattr(m, "step") and not hasattr(m, "linear_system"), (name, combine)
        y = call(m, x)
        assert y.shape == (L, H) and bool(jnp.all(jnp.isfinite(y))), (name, combine)
        # anti-causal half: changing the last input changes the first output
        assert not np.allclose(call(m, x.at[-1].add(1.0))[0], y[0]), (name, combine)


def check_linear_system(name):
    """A linear mixer's kernel (+ D at lag 0) is its measured impulse response; a diagonal
    one's A is diagonal and its shared forms are a float64 numpy loop over (A, B, C, C', D)."""
    m = _mixer(name, seed=10)
    if not isinstance(m, AbstractLinearMixer):
        assert not hasattr(m, "linear_system"), name
        return
    eye = jnp.eye(H)
    impulses = jnp.zeros((H, L, H)).at[:, 0, :].set(eye)  # input channel j at time 0
    resp = jax.vmap(m)(impulses)  # (H_in, L, H_out)
    kernel = np.asarray(m.convolution_kernel(L)).copy()
    kernel[0] += np.diag(np.asarray(m.linear_system().D))
    _close(np.transpose(np.asarray(resp), (1, 2, 0)), kernel, rtol=1e-4)
    if isinstance(m, AbstractDiagonalMixer):
        assert m.linear_system().A.ndim == 1, f"{name}: a diagonal mixer's A is (n,)"
        for combine in ("shared", "shared_from_next"):
            check_shared_form(name, combine)


def _np_shared(a, b, c, c2, d, u, offset):
    """y_t = Re(C h_t) + Re(C' h'_{t+offset}) + D u_t, h forwards, h' backwards, in float64."""
    n, length = a.shape[0], u.shape[0]
    fwd, bwd = np.zeros((length, n), complex), np.zeros((length + 1, n), complex)
    h = np.zeros(n, complex)
    for t in range(length):
        h = a * h + b @ u[t]
        fwd[t] = h
    for t in range(length - 1, -1, -1):
        bwd[t] = a * bwd[t + 1] + b @ u[t]
    return np.stack([(c @ fwd[t]).real + (c2 @ bwd[t + offset]).real + d * u[t]
                     for t in range(length)])


def check_shared_form(name, combine):
    with enable_x64():
        m = make_as(SharedBidirectional, name, H, N, key=jax.random.key(11),
                    bidirectional=True, combine=combine)
        x = np.asarray(jax.random.normal(jax.random.key(12), (L, H), jnp.float64))
        sys_f = m.mixer.linear_system()
        sys_b = m.mixer.reading_out(m.backward_readout).linear_system()
        a, b, c, d = (np.asarray(v, np.complex128) for v in sys_f)
        want = _np_shared(a, b, c, np.asarray(sys_b.C, np.complex128), d.real, x,
                          1 if combine == "shared_from_next" else 0)
        np.testing.assert_allclose(np.asarray(m(jnp.asarray(x))), want, rtol=1e-6,
                                   atol=1e-6 * np.abs(want).max(), err_msg=f"{name} {combine}")


def check_dtype_contract(name):
    """Any real input dtype gives the parameters' float32 output for the same values, and a
    length-0 sequence gives a length-0 output (issue 12: one contract for every mixer)."""
    m = _mixer(name, seed=9)
    ints = jnp.asarray(np.random.default_rng(9).integers(-3, 4, size=(L, H)), jnp.int32)
    for x in (ints, _x(9).astype(jnp.float16), _x(9).astype(jnp.bfloat16)):
        y = m(x)
        assert y.dtype == jnp.float32, f"{name}: {x.dtype} input gave {y.dtype}"
        _close(y, m(x.astype(jnp.float32)), rtol=1e-6)
    empty = m(jnp.zeros((0, H)))
    assert empty.shape == (0, H) and empty.dtype == jnp.float32, f"{name}: {empty.shape}"


def check_entry_facts(name):
    entry = mixer_entry(name)
    m = _mixer(name)
    assert type(m) is entry.layer is mixer_class(name)
    fields = {f.name for f in dataclasses.fields(m)}
    for option, value in entry.options.items():
        if option in fields:
            assert getattr(m, option) == value, (name, option)
    assert set(entry.options) <= set(entry.option_names())
    if entry.ring:  # honours a ring: eigenvalues inside it where the layer has them
        assert {"r_min", "r_max"} <= set(entry.ring_options) <= set(entry.option_names())
        ringed = make_mixer(name, H, 64, key=jax.random.key(1),
                            **entry.ring_kwargs(0.5, 0.6, max_phase=0.5))
        if isinstance(ringed, AbstractLinearMixer):
            lam = np.asarray(ringed.eigenvalues())
            assert np.all((np.abs(lam) >= 0.5 - 1e-5) & (np.abs(lam) <= 0.6 + 1e-5)), name
            if "max_phase" in entry.ring_options:
                assert np.all(np.abs(np.angle(lam)) <= 0.5 + 1e-5), name
    else:
        assert entry.ring_options == () and entry.ring_kwargs(0.5, 0.6) == {}
        with pytest.raises(ConfigError, match=name):
            make_mixer(name, H, N, key=jax.random.key(1), r_min=0.5, r_max=0.6, max_phase=0.5)
    if entry.length_option is not None:
        sized_option: dict[str, Any] = {entry.length_option: 2 * L}
        sized = make_mixer(name, H, N, key=jax.random.key(1), **sized_option)
        assert sized(_x(1)).shape == (L, H)
    with pytest.raises(ConfigError, match=f"mixer '{name}' has no option 'not_an_option'"):
        make_mixer(name, H, N, key=jax.random.key(1), not_an_option=1)


CHECKS = {
    check.__name__.removeprefix("check_"): check
    for check in (
        check_shapes_jit_vmap,
        check_gradients_finite,
        check_step_equals_call,
        check_recurrent_params_are_fields,
        check_bidirectional_forms,
        check_linear_system,
        check_dtype_contract,
        check_entry_facts,
    )
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("check", list(CHECKS))
def test_mixer_contract(check, name):
    CHECKS[check](name)


# ------------------------------------------------------------------------------ the registry


# the rows of the paper's ablation table (paper.md section 4), in its order: a source fact
PAPER_LADDER = ["rnn-relu", "rnn-tanh", "linear-dense", "diag-reim", "diag-exp",
                "diag-stable-exp", "diag-ring", "lru"]


def test_families_and_the_papers_ladder_order():
    """Names come in registry order, family by family; the rungs with the paper's numbers
    are the paper's ablation rows in its order (a new rung may sit anywhere)."""
    assert mixer_names() == list(MIXERS) == [n for f in families() for n in mixer_names(f)]
    assert [n for n in mixer_names("ladder") if MIXERS[n].paper] == PAPER_LADDER
    for name in PAPER_LADDER:
        assert set(MIXERS[name].paper) == {"image", "listops", "text", "retrieval",
                                           "pathfinder", "pathx"}, name
    assert MIXERS["s5"].combines[0] == "shared"  # S5's own form, its recipe's default
    with pytest.raises(ConfigError, match="family 'rnn'.*ladder"):
        mixer_names("rnn")


def test_options_override_the_rung_defaults():
    m = make_as(DiagonalRNN, "diag-ring", H, 64, key=jax.random.key(0), r_min=0.8, r_max=0.9)
    r = np.abs(np.asarray(m.eigenvalues()))
    assert r.min() >= 0.8 - 1e-6 and r.max() <= 0.9 + 1e-6


def test_bad_names_options_and_values_raise_config_error():
    key = jax.random.key(0)
    with pytest.raises(ConfigError, match=r"unknown mixer 'lruu' \(did you mean 'lru'\?\)"):
        make_mixer("lruu", H, N, key=key)
    with pytest.raises(ConfigError, match=r"'lru' has no option 'r_mx' \(did you mean 'r_max'"):
        make_mixer("lru", H, N, key=key, r_mx=0.9)
    with pytest.raises(ConfigError, match=r"its options: r_min, r_max, max_phase, scan_mode"):
        make_mixer("lru", H, N, key=key, r_mx=0.9)
    with pytest.raises(ConfigError, match=r"parameterization='stable_exp'.*'stable-exp'\?"):
        make_mixer("diag-ring", H, N, key=key, parameterization="stable_exp")
    with pytest.raises(ConfigError, match=r"'s5': c_init='lecun'.*'lecun_normal'"):
        make_mixer("s5", H, N, key=key, c_init="lecun")
    with pytest.raises(ConfigError, match="'gru' has no option 'r_min'"):
        make_mixer("gru", H, N, key=key, r_min=0.5)
    # a value the layer itself rejects: the layer's message, with the mixer's name
    with pytest.raises(ConfigError, match="mixer 'lru': r_min must be <= r_max"):
        make_mixer("lru", H, N, key=key, r_min=0.9, r_max=0.5)
    with pytest.raises(ConfigError, match="'diag-reim'.*init='ring'"):
        make_mixer("diag-reim", H, N, key=key, r_min=0.5)
    with pytest.raises(ConfigError, match="'rglru' has no bidirectional form 'shared'"):
        make_mixer("rglru", H, N, key=key, bidirectional=True, combine="shared")
    assert issubclass(ConfigError, ValueError)


def test_register_mixer_for_a_with_block():
    entry = MixerEntry(LRU, {"r_min": 0.5}, "an LRU on the ring [0.5, 1)", "ladder", ring=True)
    with register_mixer("lru-half", entry) as name:
        assert name == "lru-half" and "lru-half" in mixer_names("ladder")
        m = make_as(LRU, "lru-half", H, 32, key=jax.random.key(0))
        assert np.abs(np.asarray(m.eigenvalues())).min() >= 0.5 - 1e-6
        with pytest.raises(ValueError, match="already registered"):
            register_mixer("lru-half", entry)
    assert "lru-half" not in MIXERS
    registration = register_mixer("lru-half", entry)  # without `with`: until remove()
    assert "lru-half" in MIXERS
    registration.remove()
    assert "lru-half" not in MIXERS


class RealRing(AbstractRecurrentMixer):
    """A mixer that takes a ring without phases (r_min, r_max only) and nothing to train
    slowly (`recurrent_params = ()`): both are allowed."""

    w: jax.Array
    d_model: int = eqx.field(static=True)
    d_state: int = eqx.field(static=True)
    recurrent_params = ()

    def __init__(self, d_model, d_state, *, r_min: float = 0.0, r_max: float = 1.0,
                 alpha=0.5, key):
        self.w, self.d_model, self.d_state = jnp.full((d_model,), r_max), d_model, d_state

    def __call__(self, x, *, length=None, key=None):
        return x * self.w

    def init_state(self):
        return jnp.zeros(())

    def step(self, state, x_t):
        return state, x_t * self.w


def test_an_entry_checks_its_facts_against_the_constructor():
    with pytest.raises(ValueError, match="ring=True but the constructor does not take"):
        MixerEntry(GRU, {}, "no ring", "baseline", ring=True)
    with pytest.raises(ValueError, match="default_combine 'shared' is not a form of GRU"):
        MixerEntry(GRU, {}, "no shared form", "baseline", default_combine="shared")
    with pytest.raises(ValueError, match="length_option 'l_max'"):
        MixerEntry(LRU, {}, "no length", "ladder", length_option="l_max")
    with pytest.raises(ValueError, match=r"options \['dt_min'\]"):
        MixerEntry(LRU, {"dt_min": 0.1}, "not an LRU option", "ladder")
    with pytest.raises(ValueError, match="family must be a lowercase word"):
        MixerEntry(LRU, {}, "not a family name", "Two Words")
    with pytest.raises(ValueError, match=r"paper: \['cifar'\] are not tasks"):
        MixerEntry(LRU, {}, "a task the paper does not have", "ladder", paper={"cifar": "1"})
    # the open parts: a new family, a ring without max_phase, no recurrent params, an
    # un-annotated option
    entry = MixerEntry(RealRing, {"alpha": 0.1}, "a real ring", "toys", ring=True)
    assert entry.ring_options == ("r_min", "r_max")
    assert entry.ring_kwargs(0.1, 0.9, 1.0) == {"r_min": 0.1, "r_max": 0.9}
    with register_mixer("toy-real-ring", entry):
        assert families()[-1] == "toys" and mixer_names("toys") == ["toy-real-ring"]
        CHECKS["recurrent_params_are_fields"]("toy-real-ring")
        CHECKS["entry_facts"]("toy-real-ring")


def test_a_mixer_that_forgets_step_cannot_be_built():
    class Forgetful(AbstractRecurrentMixer):
        d_model: int = eqx.field(static=True)
        d_state: int = eqx.field(static=True)
        recurrent_params = ()

        def __init__(self, d_model, d_state):
            self.d_model, self.d_state = d_model, d_state

        def __call__(self, x, *, length=None, key=None):
            return x

        def init_state(self):
            return jnp.zeros(self.d_state)

    with pytest.raises(TypeError, match="abstract method.*step"):
        Forgetful(2, 3)  # type: ignore[abstract]


def test_what_a_mixer_can_do_is_its_type():
    gru = _mixer("gru")
    assert isinstance(gru, AbstractRecurrentMixer) and not isinstance(gru, AbstractLinearMixer)
    assert not hasattr(gru, "linear_system") and not hasattr(gru, "eigenvalues")
    assert math.isclose(float(jnp.sum(gru.state_vector(gru.init_state()))), 0.0)
    assert isinstance(_mixer("lru"), AbstractDiagonalMixer)
    assert isinstance(_mixer("s4"), AbstractLinearMixer)
    assert not isinstance(_mixer("s4"), AbstractDiagonalMixer)
    assert issubclass(mixer_class("linear-dense"), AbstractLinearMixer)
