"""Adding a mixer takes one class and one registry entry (docs/architecture.md, "Adding a
mixer"), proved by a toy rung defined only here and registered only for each test.

`diag-real`: x_k = lambda * x_{k-1} + B u_k, y_k = C x_k + D u_k with a REAL diagonal
lambda = exp(-exp(nu_log)) initialised on the ring r_min <= lambda <= r_max. It subclasses
`AbstractMixer`, implements `linear_system()` (it is time-invariant) and nothing else of the
toolkit. With no other file edited it gets the registry's contract tests, `make_mixer`
(options, typo suggestions, bidirectional forms) and `lrux.signal` (eigenvalues, kernel,
predicted and measured state variance), each checked here against a float64 numpy oracle.
"""

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import enable_x64
from jaxtyping import Array, Float, Int, PRNGKeyArray, Real
from test_registry import CHECKS

from lrux import signal as S
from lrux.errors import ConfigError
from lrux.init import ring_init
from lrux.layers.base import (
    AbstractMixer,
    LinearSystem,
    check_scan_mode,
    check_sequence,
    check_sizes,
    check_step,
    floating,
)
from lrux.registry import MIXERS, MixerEntry, make_mixer, mixer_names, register_mixer
from lrux.scan import ScanMode, linear_scan

NAME = "diag-real"


class DiagonalRealRNN(AbstractMixer):
    """Real diagonal linear RNN: lambda = exp(-exp(nu_log)) in (0, 1), ring init on lambda.

    `max_phase` is taken for the ring contract and unused: a positive real lambda has phase 0.
    """

    nu_log: Float[Array, " d_state"]
    B: Float[Array, "d_state d_model"]
    C: Float[Array, "d_model d_state"]
    D: Float[Array, " d_model"]
    d_model: int = eqx.field(static=True)
    d_state: int = eqx.field(static=True)
    scan_mode: str = eqx.field(static=True)

    recurrent_params: ClassVar[tuple[str, ...]] = ("nu_log", "B")

    def __init__(
        self,
        d_model: int,
        d_state: int,
        *,
        r_min: float = 0.0,
        r_max: float = 1.0,
        max_phase: float = 2 * math.pi,
        scan_mode: ScanMode = "auto",
        key: PRNGKeyArray,
    ):
        check_sizes(d_model, d_state)
        check_scan_mode(scan_mode)
        k_ring, k_b, k_c, k_d = jax.random.split(key, 4)
        nu, _ = ring_init(k_ring, d_state, r_min, r_max, max_phase)  # lambda = exp(-nu)
        self.nu_log = jnp.log(nu)
        self.B = jax.random.normal(k_b, (d_state, d_model)) / math.sqrt(d_model)
        self.C = jax.random.normal(k_c, (d_model, d_state)) / math.sqrt(d_state)
        self.D = jax.random.normal(k_d, (d_model,))
        self.d_model, self.d_state, self.scan_mode = d_model, d_state, scan_mode

    def lam(self) -> Float[Array, " d_state"]:
        return jnp.exp(-jnp.exp(self.nu_log))

    def __call__(
        self,
        x: Real[Array, "seq d_model"],
        *,
        length: Int[Array, ""] | int | None = None,  # causal: padding never reaches back
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "seq d_model"]:
        check_sequence(x, self.d_model, "DiagonalRealRNN")
        x = floating(x, self.B)
        h = linear_scan(self.lam(), x @ self.B.T, mode=self.scan_mode)
        return h @ self.C.T + self.D * x

    def init_state(self) -> Float[Array, " d_state"]:
        return jnp.zeros(self.d_state, self.B.dtype)

    def step(
        self, state: Float[Array, " d_state"], x_t: Real[Array, " d_model"]
    ) -> tuple[Float[Array, " d_state"], Float[Array, " d_model"]]:
        check_step(x_t, self.d_model, "DiagonalRealRNN")
        h = self.lam() * state + self.B @ x_t
        return h, self.C @ h + self.D * x_t

    def linear_system(self) -> LinearSystem:
        cdt = jnp.result_type(self.B.dtype, jnp.complex64)
        return LinearSystem(
            self.lam().astype(cdt), self.B.astype(cdt), self.C.astype(cdt), self.D
        )


ENTRY = MixerEntry(DiagonalRealRNN, {}, "diagonal real, ring init", "ladder", ring=True)


@pytest.fixture
def diag_real():
    with register_mixer(NAME, ENTRY) as name:
        yield name
    assert NAME not in MIXERS  # registered for this test only


def _np(a):
    return np.asarray(a, np.float64)


@pytest.mark.parametrize("check", list(CHECKS))
def test_the_registry_contract(diag_real, check):
    CHECKS[check](diag_real)


def test_make_mixer_and_the_registry_know_it(diag_real):
    assert diag_real in mixer_names("ladder") and diag_real in mixer_names()
    m = make_mixer(diag_real, 3, 500, key=jax.random.key(0), r_min=0.6, r_max=0.8)
    lam = _np(m.lam())
    assert lam.min() >= 0.6 - 1e-6 and lam.max() <= 0.8 + 1e-6
    with pytest.raises(ConfigError, match=r"'diag-real' has no option 'rmax'.*'r_max'"):
        make_mixer(diag_real, 3, 8, key=jax.random.key(0), rmax=0.9)
    with pytest.raises(ConfigError, match="no bidirectional form 'shared'"):
        make_mixer(diag_real, 3, 8, key=jax.random.key(0), bidirectional=True, combine="shared")


def test_the_signal_toolkit_works_on_it(diag_real):
    with enable_x64():
        m = make_mixer(diag_real, 3, 16, key=jax.random.key(1), r_min=0.5, r_max=0.95)
        lam, b, c, d = _np(m.lam()), _np(m.B), _np(m.C), _np(m.D)
        np.testing.assert_allclose(_np(S.eigenvalues(m).real), lam, atol=1e-14)
        np.testing.assert_allclose(_np(S.eigenvalues(m).imag), 0.0)
        length = 30
        want = np.stack([c @ (lam[:, None] ** k * b) for k in range(length)])  # C diag^k B
        np.testing.assert_allclose(_np(S.kernel(m, length)), want, atol=1e-12)
        resp = _np(S.impulse_response(m, length))
        want[0] += np.diag(d)
        np.testing.assert_allclose(resp, want, atol=1e-12)
        # predicted E|x_k|^2 = mean_j sum_{i<=k} lambda_j^(2i) ||B_j||^2: the numpy recursion
        v, rec = np.zeros(16), []
        for _ in range(length):
            v = lam**2 * v + np.sum(b**2, axis=1)
            rec.append(v.mean())
        pred = _np(S.predicted_state_variance(m, length))
        np.testing.assert_allclose(pred, rec, rtol=1e-10)
        meas = _np(S.state_variance(m, length, key=jax.random.key(2), num_samples=512))
        np.testing.assert_allclose(meas[[0, 10, 29]], pred[[0, 10, 29]], rtol=0.1)


def test_a_preset_gives_it_the_ring_and_trains_it(diag_real):
    """Presets read the registry's `ring` fact: the new rung gets Table 9's ListOps ring as
    mixer options, and the model builds and takes a train step through the one setup."""
    from lrux.presets import apply_overrides, get_preset
    from lrux.train import init_train_state, make_mesh, make_train_step
    from lrux.train.benchmark import preset_spec, synthetic_batch
    from lrux.train.sharding import global_batch

    preset = get_preset("listops", diag_real, "paper")
    assert preset.mixer_options == {"r_min": 0.0, "r_max": 0.99, "max_phase": 2 * math.pi}
    with pytest.raises(ConfigError, match="r_max"):
        apply_overrides(preset, ["r_mx=0.9"],
                        mixer_options=set(MIXERS[diag_real].option_names()))
    small = apply_overrides(get_preset("listops", diag_real, "smoke"),
                            {"depth": 1, "d_model": 8, "d_state": 8, "batch_size": 4})
    mesh = make_mesh()
    spec = preset_spec(small)
    setup = init_train_state(small, spec, mesh, seed=0)
    lam = setup.state.model.encoder.blocks[0].mixer.lam()
    assert float(lam.min()) >= 0.0 and float(lam.max()) <= 0.99 + 1e-6  # the ListOps ring
    step = make_train_step(setup.tx, mesh)
    batch = synthetic_batch(spec, small.batch_size, np.random.default_rng(0))
    _, metrics = step(setup.state, global_batch(batch, mesh))
    assert bool(metrics.finite)
