"""Adding a mixer takes one class and one registry entry (docs/architecture.md, "Adding a
mixer"), proved by two toys defined only here and registered only for each test.

`toy-diag-real`, a new diagonal rung: x_k = lambda * x_{k-1} + B u_k, y_k = C x_k + D u_k
with a REAL diagonal lambda = exp(-exp(nu_log)) initialised on the ring r_min <= lambda <=
r_max (no phases, so no `max_phase`). It subclasses `AbstractDiagonalMixer` and writes its
call, step, linear system and read-out fields, nothing else. With no other file edited it
gets the registry's contract tests (chosen by its type), both shared bidirectional forms and
the two-mixer ones, the padding contract, `lrux.signal` (each checked here against a
float64 numpy oracle), the presets' ring, a short training run, notebook 05's ladder (its
ring, a training run, a colour and the paper's row, through the notebook's own helpers), and
its place on the API docs page.

`toy-causal-conv`, a mixer that only reads whole sequences (a causal depthwise convolution,
no step, nothing trained slowly, a new family): the same contract tests and training path.
"""

import importlib.util
import math
from pathlib import Path
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import enable_x64, make_as
from jaxtyping import Array, Float, Int, PRNGKeyArray, Real, TypeCheckError
from test_padding import test_padding_never_reaches_a_valid_output_of_any_mixer as padding
from test_registry import CHECKS

from lrux import signal as S
from lrux.errors import ConfigError
from lrux.init import ring_init
from lrux.layers.base import (
    AbstractDiagonalMixer,
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

NAME, CONV = "toy-diag-real", "toy-causal-conv"


class DiagonalRealRNN(AbstractDiagonalMixer):
    """Real diagonal linear RNN: lambda = exp(-exp(nu_log)) in (0, 1), ring init on lambda."""

    nu_log: Float[Array, " d_state"]
    B: Float[Array, "d_state d_model"]
    C: Float[Array, "d_model d_state"]
    D: Float[Array, " d_model"]
    d_model: int = eqx.field(static=True)
    d_state: int = eqx.field(static=True)
    scan_mode: ScanMode = eqx.field(static=True)

    recurrent_params: ClassVar[tuple[str, ...]] = ("nu_log", "B")
    readout_fields: ClassVar[tuple[str, ...]] = ("C",)

    def __init__(
        self,
        d_model: int,
        d_state: int,
        *,
        r_min: float = 0.0,
        r_max: float = 1.0,
        scan_mode: ScanMode = "auto",
        key: PRNGKeyArray,
    ):
        check_sizes(d_model, d_state)
        check_scan_mode(scan_mode)
        k_ring, k_b, k_c, k_d = jax.random.split(key, 4)
        nu, _ = ring_init(k_ring, d_state, r_min, r_max, 2 * math.pi)  # lambda = exp(-nu)
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


class CausalConv(AbstractMixer):
    """y_t = sum_{j < width} w_j * x_{t-j} (depthwise): reads whole sequences, no step."""

    w: Float[Array, "width d_model"]
    d_model: int = eqx.field(static=True)

    recurrent_params: ClassVar[tuple[str, ...]] = ()

    def __init__(self, d_model: int, d_state: int, *, width: int = 3, key: PRNGKeyArray):
        check_sizes(d_model, d_state)  # d_state: the registry's signature; unused
        self.w = jax.random.normal(key, (width, d_model)) / math.sqrt(width)
        self.d_model = d_model

    def __call__(
        self,
        x: Real[Array, "seq d_model"],
        *,
        length: Int[Array, ""] | int | None = None,  # causal: padding never reaches back
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "seq d_model"]:
        check_sequence(x, self.d_model, "CausalConv")
        x = floating(x, self.w)
        width, n = self.w.shape[0], x.shape[0]
        padded = jnp.concatenate([jnp.zeros((width - 1, self.d_model), x.dtype), x])
        y = jnp.zeros_like(x)
        for j in range(width):  # y_t += w_j * x_{t-j}
            y = y + self.w[j] * padded[width - 1 - j : width - 1 - j + n]
        return y


ENTRY = MixerEntry(DiagonalRealRNN, {}, "diagonal real, ring init", "ladder", ring=True)
CONV_ENTRY = MixerEntry(CausalConv, {}, "causal depthwise convolution", "conv")


@pytest.fixture
def diag_real():
    with register_mixer(NAME, ENTRY) as name:
        yield name
    assert NAME not in MIXERS  # registered for this test only


@pytest.fixture
def conv():
    with register_mixer(CONV, CONV_ENTRY) as name:
        yield name
    assert CONV not in MIXERS


def _np(a):
    return np.asarray(a, np.float64)


@pytest.mark.parametrize("check", list(CHECKS))
def test_the_registry_contract(diag_real, check):
    CHECKS[check](diag_real)


@pytest.mark.parametrize("check", list(CHECKS))
def test_the_registry_contract_of_a_mixer_without_step(conv, check):
    CHECKS[check](conv)


def test_padding_never_reaches_its_outputs_in_any_form(diag_real, conv):
    padding(diag_real)
    padding(conv)


def test_make_mixer_and_the_registry_know_it(diag_real):
    assert diag_real in mixer_names("ladder") and diag_real in mixer_names()
    assert MIXERS[diag_real].combines == ("concat", "sum", "shared", "shared_from_next")
    m = make_as(DiagonalRealRNN, diag_real, 3, 500, key=jax.random.key(0), r_min=0.6,
                r_max=0.8)
    lam = _np(m.lam())
    assert lam.min() >= 0.6 - 1e-6 and lam.max() <= 0.8 + 1e-6
    with pytest.raises(ConfigError, match=r"'toy-diag-real' has no option 'rmax'.*'r_max'"):
        make_mixer(diag_real, 3, 8, key=jax.random.key(0), rmax=0.9)
    with pytest.raises(ConfigError, match="has no option 'max_phase'"):
        make_mixer(diag_real, 3, 8, key=jax.random.key(0), max_phase=1.0)


def test_the_signal_toolkit_works_on_it(diag_real, conv):
    with enable_x64():
        m = make_as(DiagonalRealRNN, diag_real, 3, 16, key=jax.random.key(1), r_min=0.5,
                    r_max=0.95)
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
    convolution = make_mixer(conv, 3, 4, key=jax.random.key(3))
    # refused by type: a ValueError naming the capability, or first the tests' runtime type
    # checker's TypeCheckError (as pyright refuses the call)
    with pytest.raises((ValueError, TypeCheckError), match="(?s)CausalConv.*AbstractLinearMix"):
        S.kernel(convolution, 5)  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeCheckError), match="(?s)CausalConv.*AbstractRecurrent"):
        S.state_variance(convolution, 5, key=jax.random.key(4))  # type: ignore[arg-type]
    assert S.gradient_reach(convolution, 6, key=jax.random.key(5)).shape == (6,)


def _train(preset, steps: int) -> list[float]:
    """`steps` train steps of `preset` through the one setup (the loop's, the benchmarks')."""
    from lrux.train import init_train_state, make_mesh, make_train_step
    from lrux.train.benchmark import preset_spec, synthetic_batch
    from lrux.train.sharding import global_batch

    mesh = make_mesh()
    spec = preset_spec(preset)
    setup = init_train_state(preset, spec, mesh, seed=0)
    step = make_train_step(setup.tx, mesh)
    state, losses, rng = setup.state, [], np.random.default_rng(0)
    batch = synthetic_batch(spec, preset.batch_size, rng)
    for _ in range(steps):  # the same batch: the loss must fall
        state, metrics = step(state, global_batch(batch, mesh))
        losses.append(float(metrics.loss))
    return losses


SMALL = {"depth": 1, "d_model": 8, "d_state": 8, "batch_size": 4, "lr": 1e-2}
SHORT = {"listops": {"data.load.max_length": 64}, "pathfinder": {}}  # a task's own load option


def test_the_presets_give_it_the_ring_and_it_trains(diag_real, conv):
    """Presets read the registry's ring facts: the new rung gets Table 9's ListOps ring as
    the options it takes (no max_phase); it and the convolution train through the one
    setup, the rung also in its bidirectional presets (Pathfinder: concat)."""
    from lrux.presets import apply_overrides, get_preset

    preset = get_preset("listops", diag_real, "paper")
    assert preset.mixer_options == {"r_min": 0.0, "r_max": 0.99}
    with pytest.raises(ConfigError, match="r_max"):
        apply_overrides(preset, ["r_mx=0.9"],
                        mixer_options=set(MIXERS[diag_real].option_names()))
    for name, task in ((diag_real, "listops"), (conv, "listops"), (diag_real, "pathfinder")):
        small = apply_overrides(get_preset(task, name, "smoke"), {**SMALL, **SHORT[task]})
        losses = _train(small, 8)
        assert np.all(np.isfinite(losses)) and losses[-1] < losses[0], (name, task, losses)
    shared = apply_overrides(get_preset("pathfinder", diag_real, "smoke"),
                             {**SMALL, "combine": "shared_from_next"})
    assert np.all(np.isfinite(_train(shared, 2)))


def _load(path_in_repo: str):
    path = Path(__file__).resolve().parent.parent / path_in_repo
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebook_05s_ladder_trains_and_draws_it(diag_real, monkeypatch):
    """What notebook 05 does per rung, through its own code: the registry order, the ring as
    the options the rung takes (no max_phase: `ladder_reference.ring_options`), a training
    run (`ladder_reference.train_rung`), a colour, a line style and the paper's row (dashes:
    the paper has no such rung) from `notebooks/course.py`."""
    pytest.importorskip("IPython")
    pytest.importorskip("matplotlib")
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "notebooks"))
    import course

    ref = _load("benchmarks/ladder_reference.py")
    ladder = mixer_names("ladder")
    assert ladder[-1] == diag_real  # registered last: after the paper's rungs
    options = ref.ring_options(diag_real, ref.CONFIG["ring"])
    assert options == {"r_min": 0.999, "r_max": 0.9999}
    cfg = {**ref.QUICK, "steps": 2, "batch": 2, "test": 4}
    run = ref.train_rung(diag_real, options, 8, cfg)
    assert run["finite"] and 0.0 <= run["accuracy"] <= 1.0
    assert course.COLORS[diag_real] not in {course.COLORS[n] for n in ladder[:-1]}
    assert course.STYLES[diag_real] is not None and course.label(diag_real)["label"]
    assert course.paper_row(diag_real) == ("-",) * len(course.PAPER_TASKS)
    assert course.paper_row("lru")[-1] == MIXERS["lru"].paper["pathx"] == "94.2"


def test_the_api_docs_page_lists_its_module(diag_real):
    pytest.importorskip("mkdocs")
    path = Path(__file__).resolve().parent.parent / "docs" / "_hooks.py"
    spec = importlib.util.spec_from_file_location("lrux_docs_hooks", path)
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    page = hooks.layers_api()
    assert f"::: {DiagonalRealRNN.__module__}" in page
    assert page.index("::: lrux.layers.base") < page.index("::: lrux.layers.lru")
