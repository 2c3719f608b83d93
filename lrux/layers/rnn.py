"""The bottom rungs of the ablation ladder and the gated baselines (paper section 4).

Every layer here reads u_k in R^H (`d_model`), keeps a real state of size N (`d_state`) and
outputs y_k = C x_k + D * u_k, exactly like the LRU, so the rungs differ only in the
recurrence that the ladder changes:

- `ElmanRNN`: x_k = sigma(A x_{k-1} + B u_k), sigma = tanh or ReLU, dense Glorot A.
- `DenseLinearRNN`: x_k = A x_{k-1} + B u_k (the same without sigma).
- `GRU`, `LSTM`: the gated baselines (equinox's `GRUCell` / `LSTMCell` equations and init).

They share one base, `AbstractDenseRNN` (generic in the state's type): a layer says how the
input enters (`_input_weights`: W, b of the input part W u + b, computed for the whole
sequence before the scan), how the state is updated (`_update`), what the state is at the
start (`init_state`) and which part the read-out reads (`_hidden`); the scan, the step and
the read-out are common. `AbstractVectorRNN` is the base of those whose state is one vector
h (Elman, dense linear, GRU); the LSTM's state is the pair (h, c).

A dense recurrence is a matrix product per step, not an elementwise one, so these layers run
a sequential `jax.lax.scan`; the input projections B u_k (and the gates' input parts) are
computed for the whole sequence before the scan, so the scan body holds only the recurrent
product. This sequential dependence is what the paper's linear diagonal rungs remove.
"""

import abc
import math
from typing import ClassVar, Generic, Literal, TypeVar, get_args

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Complex, Float, Int, PRNGKeyArray, Real

from lrux.init import glorot_matrix
from lrux.layers.base import (
    AbstractLinearMixer,
    AbstractRecurrentMixer,
    LinearSystem,
    check_choice,
    check_sequence,
    check_sizes,
    check_step,
    dense_eigenvalues,
)

Nonlinearity = Literal["tanh", "relu"]
NONLINEARITIES: tuple[str, ...] = get_args(Nonlinearity)
_NONLINEARITIES = {"tanh": jnp.tanh, "relu": jax.nn.relu}


def _readout_init(
    key: PRNGKeyArray, d_model: int, d_state: int
) -> tuple[Float[Array, "d_model d_state"], Float[Array, " d_model"]]:
    """C ~ N(0, 1/N) (H, N) and D ~ N(0, 1) (H,): the LRU's real readout init (paper sec. 1)."""
    kc, kd = jax.random.split(key)
    c = jax.random.normal(kc, (d_model, d_state)) * (1.0 / math.sqrt(d_state))
    d = jax.random.normal(kd, (d_model,))
    return c, d


def _glorot_init(key: PRNGKeyArray, d_model: int, d_state: int) -> tuple[Array, ...]:
    """(A, B, C, D): Glorot A (N, N) and B (N, H), then the LRU's readout init."""
    ka, kb, kr = jax.random.split(key, 3)
    c, d = _readout_init(kr, d_model, d_state)
    return glorot_matrix(ka, d_state, d_state), glorot_matrix(kb, d_state, d_model), c, d


State = TypeVar("State")


class AbstractDenseRNN(AbstractRecurrentMixer, Generic[State]):
    """A real-state RNN with readout y_k = C h_k + D u_k, run by a sequential `lax.scan`.

    A subclass gives `_input_weights` (W (k, H), b (k,) or None: the input's part W u_k + b
    of the update), `_update` (state_{k-1}, input part) -> state_k, `init_state` and
    `_hidden(state)`, the h that the read-out reads.
    """

    C: eqx.AbstractVar[Float[Array, "d_model d_state"]]
    D: eqx.AbstractVar[Float[Array, " d_model"]]

    @abc.abstractmethod
    def _input_weights(self) -> tuple[Array, Array | None]:
        """(W, b) of the input part W u + b of the update."""

    @abc.abstractmethod
    def _update(self, state: State, gi: Array) -> State:
        """(state_{k-1}, input part of u_k) -> state_k."""

    @abc.abstractmethod
    def _hidden(self, state: State) -> Float[Array, " d_state"]:
        """The h (N,) of the state that the read-out C h reads."""

    @abc.abstractmethod
    def init_state(self) -> State:
        """The zero state."""

    def __call__(
        self,
        x: Real[Array, "seq d_model"],
        *,
        length: Int[Array, ""] | int | None = None,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "seq d_model"]:
        """(L, H) -> (L, H), sequential scan from the zero state; causal (`length` not needed)."""
        check_sequence(x, self.d_model, type(self).__name__)

        def body(state, gi_k):
            state = self._update(state, gi_k)
            return state, self._hidden(state)

        w, b = self._input_weights()
        gi = x @ w.T if b is None else x @ w.T + b  # the whole sequence at once
        _, hs = jax.lax.scan(body, self.init_state(), gi)
        return hs @ self.C.T + x * self.D

    def step(
        self, state: State, x_t: Real[Array, " d_model"]
    ) -> tuple[State, Float[Array, " d_model"]]:
        """One step: (x_{k-1}, u_k) -> (x_k, y_k)."""
        check_step(x_t, self.d_model, type(self).__name__)
        w, b = self._input_weights()
        state = self._update(state, w @ x_t if b is None else w @ x_t + b)
        return state, self.C @ self._hidden(state) + self.D * x_t


class AbstractVectorRNN(AbstractDenseRNN[Array]):
    """An `AbstractDenseRNN` whose state is one vector h (N,), zero at the start."""

    def init_state(self) -> Float[Array, " d_state"]:
        """The zero state x_0 (N,)."""
        return jnp.zeros((self.d_state,), self.C.dtype)

    def _hidden(self, state: Array) -> Float[Array, " d_state"]:
        return state


class ElmanRNN(AbstractVectorRNN):
    """Elman RNN, x_k = sigma(A x_{k-1} + B u_k), y_k = C x_k + D u_k (paper sec. 4, rows 1-2).

    `A` (N, N) and `B` (N, H) are Glorot (iid N(0, 1/fan_in)), `C` (H, N) ~ N(0, 1/N),
    `D` (H,) ~ N(0, 1). `nonlinearity` is "tanh" (`rnn-tanh`) or "relu" (`rnn-relu`).
    """

    A: Float[Array, "d_state d_state"]
    B: Float[Array, "d_state d_model"]
    C: Float[Array, "d_model d_state"]
    D: Float[Array, " d_model"]
    d_model: int = eqx.field(static=True)
    d_state: int = eqx.field(static=True)
    nonlinearity: str = eqx.field(static=True)

    recurrent_params: ClassVar[tuple[str, ...]] = ("A", "B")

    def __init__(
        self,
        d_model: int,
        d_state: int,
        *,
        nonlinearity: Nonlinearity = "tanh",
        key: PRNGKeyArray,
    ):
        check_sizes(d_model, d_state)
        check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        self.A, self.B, self.C, self.D = _glorot_init(key, d_model, d_state)
        self.d_model = d_model
        self.d_state = d_state
        self.nonlinearity = nonlinearity

    def _input_weights(self) -> tuple[Array, None]:
        return self.B, None

    def _update(self, state: Array, gi: Array) -> Array:
        return _NONLINEARITIES[self.nonlinearity](self.A @ state + gi)

    def eigenvalues(self) -> Complex[Array, " d_state"]:
        """eig(A): the recurrence linearised at the zero state (tanh'(0) = 1)."""
        return dense_eigenvalues(self.A)


class DenseLinearRNN(AbstractVectorRNN, AbstractLinearMixer):
    """Dense linear RNN, x_k = A x_{k-1} + B u_k, y_k = C x_k + D u_k (paper sec. 4, row 3).

    Same parameters and init as `ElmanRNN` (Glorot `A`, so by the circular law its
    eigenvalues fill the unit disk at init: paper sec. 6). Diagonalising A = P Lambda P^-1
    gives the complex diagonal RNN with B' = P^-1 B, C' = C P (`DiagonalRNN`).
    """

    A: Float[Array, "d_state d_state"]
    B: Float[Array, "d_state d_model"]
    C: Float[Array, "d_model d_state"]
    D: Float[Array, " d_model"]
    d_model: int = eqx.field(static=True)
    d_state: int = eqx.field(static=True)

    recurrent_params: ClassVar[tuple[str, ...]] = ("A", "B")

    def __init__(self, d_model: int, d_state: int, *, key: PRNGKeyArray):
        check_sizes(d_model, d_state)
        self.A, self.B, self.C, self.D = _glorot_init(key, d_model, d_state)
        self.d_model = d_model
        self.d_state = d_state

    def _input_weights(self) -> tuple[Array, None]:
        return self.B, None

    def _update(self, state: Array, gi: Array) -> Array:
        return self.A @ state + gi

    def linear_system(self) -> LinearSystem:
        """A, B, C (dense, as complex arrays) and D."""
        cdt = jnp.result_type(self.A.dtype, jnp.complex64)
        return LinearSystem(self.A.astype(cdt), self.B.astype(cdt), self.C.astype(cdt), self.D)

    def eigenvalues(self) -> Complex[Array, " d_state"]:
        """eig(A) of the real A, in numpy float64 (its complex pairs exactly conjugate)."""
        return dense_eigenvalues(self.A)


class GRU(AbstractVectorRNN):
    """GRU baseline as a sequence mixer: equinox's `GRUCell` equations, then y = C h + D u.

    With gates split as [reset, update, new] along the first axis of the weights:
    r = sigmoid(W_ir u + b_r + W_hr h), z = sigmoid(W_iz u + b_z + W_hz h),
    n = tanh(W_in u + b_n + r * (W_hn h + bias_n)), h' = n + z * (h - n).
    Weights and biases use `eqx.nn.GRUCell`'s init (uniform in +-1/sqrt(N)); `C`, `D` as in
    the LRU. The fields are stored flat (not as a cell) so the optimizer's
    `recurrent_params` ("weight_hh", "weight_ih") find them.
    """

    weight_ih: Float[Array, "3*d_state d_model"]
    weight_hh: Float[Array, "3*d_state d_state"]
    bias: Float[Array, " 3*d_state"]
    bias_n: Float[Array, " d_state"]
    C: Float[Array, "d_model d_state"]
    D: Float[Array, " d_model"]
    d_model: int = eqx.field(static=True)
    d_state: int = eqx.field(static=True)

    recurrent_params: ClassVar[tuple[str, ...]] = ("weight_hh", "weight_ih")

    def __init__(self, d_model: int, d_state: int, *, key: PRNGKeyArray):
        check_sizes(d_model, d_state)
        kc, kr = jax.random.split(key)
        cell = eqx.nn.GRUCell(d_model, d_state, key=kc)
        assert cell.bias is not None and cell.bias_n is not None  # use_bias=True by default
        self.weight_ih = cell.weight_ih
        self.weight_hh = cell.weight_hh
        self.bias = cell.bias
        self.bias_n = cell.bias_n
        self.C, self.D = _readout_init(kr, d_model, d_state)
        self.d_model = d_model
        self.d_state = d_state

    def _input_weights(self) -> tuple[Array, Array]:
        return self.weight_ih, self.bias

    def _update(self, state: Array, gi: Array) -> Array:
        # gi = W_ih u + bias, precomputed; only the recurrent product is sequential.
        h, n = state, self.d_state
        gh = self.weight_hh @ h
        reset = jax.nn.sigmoid(gi[:n] + gh[:n])
        update = jax.nn.sigmoid(gi[n : 2 * n] + gh[n : 2 * n])
        new = jnp.tanh(gi[2 * n :] + reset * (gh[2 * n :] + self.bias_n))
        return new + update * (h - new)


class LSTM(AbstractDenseRNN[tuple[Array, Array]]):
    """LSTM baseline as a sequence mixer: equinox's `LSTMCell` equations, then y = C h + D u.

    Gates [i, f, g, o] = split(W_ih u + W_hh h + bias); c' = sigmoid(f) c + sigmoid(i) tanh(g),
    h' = sigmoid(o) tanh(c'). The state is the pair (h, c), each (N,); the readout uses h,
    the state-variance tools read the cell c.
    Init as `eqx.nn.LSTMCell` (uniform in +-1/sqrt(N)); `C`, `D` as in the LRU.
    """

    weight_ih: Float[Array, "4*d_state d_model"]
    weight_hh: Float[Array, "4*d_state d_state"]
    bias: Float[Array, " 4*d_state"]
    C: Float[Array, "d_model d_state"]
    D: Float[Array, " d_model"]
    d_model: int = eqx.field(static=True)
    d_state: int = eqx.field(static=True)

    recurrent_params: ClassVar[tuple[str, ...]] = ("weight_hh", "weight_ih")

    def __init__(self, d_model: int, d_state: int, *, key: PRNGKeyArray):
        check_sizes(d_model, d_state)
        kc, kr = jax.random.split(key)
        cell = eqx.nn.LSTMCell(d_model, d_state, key=kc)
        assert cell.bias is not None  # use_bias=True by default
        self.weight_ih = cell.weight_ih
        self.weight_hh = cell.weight_hh
        self.bias = cell.bias
        self.C, self.D = _readout_init(kr, d_model, d_state)
        self.d_model = d_model
        self.d_state = d_state

    def init_state(self) -> tuple[Float[Array, " d_state"], Float[Array, " d_state"]]:
        """The zero state (h, c), each (N,)."""
        z = jnp.zeros((self.d_state,), self.weight_hh.dtype)
        return z, z

    def _input_weights(self) -> tuple[Array, Array]:
        return self.weight_ih, self.bias

    def _update(self, state: tuple[Array, Array], gi: Array) -> tuple[Array, Array]:
        h, c = state
        n = self.d_state
        lin = gi + self.weight_hh @ h
        i = jax.nn.sigmoid(lin[:n])
        f = jax.nn.sigmoid(lin[n : 2 * n])
        g = jnp.tanh(lin[2 * n : 3 * n])
        o = jax.nn.sigmoid(lin[3 * n :])
        c = f * c + i * g
        return o * jnp.tanh(c), c

    def _hidden(self, state: tuple[Array, Array]) -> Float[Array, " d_state"]:
        return state[0]

    def state_vector(self, state: tuple[Array, Array]) -> Float[Array, " d_state"]:
        """The cell c."""
        return state[1]
