"""Signal-propagation toolkit: why deep linear RNNs work (paper.md section 6).

Functions that take a mixer of the zoo (`lrux.registry.make_mixer`) by the capability they
need, as its type (`lrux.layers.base`): any `AbstractMixer` (`__call__`: impulse response,
gradient reach), an `AbstractRecurrentMixer` (`init_state` / `step` / `state_vector`: the
measured state variance) or an `AbstractLinearMixer` (`linear_system()`, `eigenvalues()`,
`convolution_kernel(length)`: the closed forms). A type checker rejects `kernel(gru, 5)`; at
run time each function checks the capability once and raises ValueError naming it. No
function here knows a layer by name: a new linear mixer gets all of them.

- `eigenvalues(mixer)`: the discrete-time eigenvalues of the recurrence (complex plane);
  `glorot_eigenvalues(key, n)`: the spectrum of a Glorot matrix (circular law).
- `linear_system(mixer)`: the layer as x_k = A x_{k-1} + B u_k, y_k = Re(C x_k) + D u_k
  (A diagonal or dense) for every linear time-invariant layer (LRU, diagonal rungs, dense
  linear, S4D, causal S5, S4); `diagonalize(dense)`: the dense linear RNN as an exactly
  equal complex diagonal one.
- `kernel(mixer, length)`: the convolution kernel K_k = Re(C A^k B) in closed form;
  `impulse_response(mixer, length)`: measured by feeding a unit impulse through the layer
  (any layer), equal to the kernel plus D at k = 0 for linear layers.
- `state_variance(mixer, length, key=...)`: E|x_k|^2 over time for white-noise input,
  measured through `step`; `predicted_state_variance(mixer, length)`: the same from the
  closed form (paper Prop. 3; exact at every k for linear layers); `ring_variance(r_min,
  r_max)`: the paper's asymptotic value for lambda uniform on a ring; `without_gamma(lru)`.
- `gradient_reach(mixer, length, key=...)`: ||d y_{L-1} / d u_{L-1-k}|| for k = 0..L-1, how
  far back the output at the end can see (any layer).

Eigendecompositions run in numpy (float64) so they work on every backend.
"""

import math
from typing import TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Complex, Float, Inexact, PRNGKeyArray

from lrux.init import glorot_matrix
from lrux.layers.base import (
    AbstractLinearMixer,
    AbstractMixer,
    AbstractRecurrentMixer,
    LinearSystem,
)
from lrux.layers.bidirectional import Bidirectional, SharedBidirectional
from lrux.layers.diagonal import DiagonalRNN
from lrux.layers.lru import LRU
from lrux.layers.rnn import DenseLinearRNN

GammaRNN = TypeVar("GammaRNN", LRU, DiagonalRNN)

__all__ = [
    "LinearSystem",
    "circular_law_fraction",
    "diagonalize",
    "eigenvalues",
    "glorot_eigenvalues",
    "gradient_reach",
    "hidden_states",
    "impulse_response",
    "kernel",
    "linear_system",
    "predicted_state_variance",
    "ring_variance",
    "state_variance",
    "without_gamma",
]


def _name(mixer) -> str:
    return type(mixer).__name__


def _check_length(length: int, name: str = "length") -> None:
    if not isinstance(length, int) or isinstance(length, bool) or length < 1:
        raise ValueError(f"{name} must be a positive int, got {length!r}")


def _param_dtype(mixer) -> jnp.dtype:
    """The floating dtype of a layer's parameters."""
    leaves = jax.tree_util.tree_leaves(eqx.filter(mixer, eqx.is_inexact_array))
    if not leaves:
        return jnp.result_type(float)
    return jnp.real(jnp.zeros((), leaves[0].dtype)).dtype


def _complex_dtype(*arrays) -> jnp.dtype:
    return jnp.result_type(*[a.dtype for a in arrays], jnp.complex64)


def _why_not(mixer: object, capability: str) -> str:
    """Why `mixer` is not an `capability` (a bidirectional wrapper reads the future)."""
    if isinstance(mixer, Bidirectional | SharedBidirectional):
        inner = mixer.forward if isinstance(mixer, Bidirectional) else mixer.mixer
        return (f"a bidirectional {_name(inner)} is not causal: it reads the future, so it is "
                "not one recurrence; inspect the mixer it wraps")
    if capability == "AbstractLinearMixer":
        return ("it has no linear_system(), not being a linear time-invariant layer "
                "(nonlinear, gated and input-dependent recurrences are not)")
    return "it has no init_state() / step() to run one step at a time"


def _require(mixer: object, capability: type, function: str) -> None:
    """ValueError naming the missing capability unless `mixer` is a `capability`."""
    if not isinstance(mixer, capability):
        name = capability.__name__
        raise ValueError(f"{function}: {_name(mixer)} is not an {name}: {_why_not(mixer, name)}")


# --------------------------------------------------------------------------------------------
# Linear systems and eigenvalues


def linear_system(mixer: AbstractLinearMixer) -> LinearSystem:
    """The (A, B, C, D) of a linear time-invariant layer (its state is the one `step`
    carries): `mixer.linear_system()`, as each layer documents it (A diagonal (n,) or dense).
    """
    _require(mixer, AbstractLinearMixer, "linear_system")
    return mixer.linear_system()


def eigenvalues(mixer: AbstractLinearMixer) -> Complex[Array, " modes"]:
    """The discrete-time eigenvalues of a layer's recurrence, one per state mode
    (`mixer.eigenvalues()`; conjugate pairs that a layer keeps once appear once)."""
    _require(mixer, AbstractLinearMixer, "eigenvalues")
    return mixer.eigenvalues()


def glorot_eigenvalues(key: PRNGKeyArray, n: int) -> Complex[Array, " n"]:
    """Eigenvalues of an n x n Glorot matrix (iid N(0, 1/n)): uniform on the unit disk as
    n grows (circular law, paper section 6)."""
    _check_length(n, "n")
    a = np.asarray(glorot_matrix(key, n, n), np.float64)
    return jnp.asarray(np.linalg.eigvals(a)).astype(_complex_dtype(jnp.zeros(())))


def circular_law_fraction(
    lam: Complex[Array, " n"], radii: Float[Array, " r"]
) -> Float[Array, " r"]:
    """Fraction of the eigenvalues with |lambda| <= r, for each r (the circular law: r^2)."""
    mod = jnp.abs(lam)
    return jnp.mean(mod[None, :] <= radii[:, None], axis=1).astype(radii.dtype)


def diagonalize(mixer: DenseLinearRNN) -> DiagonalRNN:
    """The `DenseLinearRNN` as a complex `DiagonalRNN` with exactly the same outputs.

    A = P Lambda P^-1, lambda = eig(A), B' = P^-1 B, C' = C P, D unchanged (paper sec. 6):
    x' = P^-1 x follows x'_k = Lambda x'_{k-1} + B' u_k and C x = C' x' is real, so
    Re(C' x') = C x. The result uses the "reim" parameterisation, gamma off.
    """
    if not isinstance(mixer, DenseLinearRNN):
        raise ValueError(f"diagonalize expects a DenseLinearRNN, got {_name(mixer)}")
    a = np.asarray(mixer.A, np.float64)
    lam, p = np.linalg.eig(a)
    b = np.linalg.solve(p, np.asarray(mixer.B, np.float64))
    c = np.asarray(mixer.C, np.float64) @ p
    dtype = mixer.A.dtype
    diag = DiagonalRNN(
        mixer.d_model,
        mixer.d_state,
        parameterization="reim",
        init="disk",
        gamma=False,
        key=jax.random.key(0),
    )
    fields = (
        lambda m: m.lam_re,
        lambda m: m.lam_im,
        lambda m: m.B_re,
        lambda m: m.B_im,
        lambda m: m.C_re,
        lambda m: m.C_im,
        lambda m: m.D,
    )
    values = (np.real(lam), np.imag(lam), np.real(b), np.imag(b), np.real(c), np.imag(c),
              np.asarray(mixer.D))
    for get, value in zip(fields, values, strict=True):
        diag = eqx.tree_at(get, diag, jnp.asarray(value, dtype))
    return diag


# --------------------------------------------------------------------------------------------
# Kernels and impulse responses


def kernel(mixer: AbstractLinearMixer, length: int) -> Float[Array, "length d_model d_model"]:
    """The convolution kernel K_k = Re(C A^k B), k < length (without the D skip).

    y_t = sum_{k <= t} K_k u_{t-k} + D * u_t: `mixer.convolution_kernel(length)` (S4D and S4
    their own kernels, the others the closed form of `linear_system`). For a nonlinear layer
    use `impulse_response`.
    """
    _require(mixer, AbstractLinearMixer, "kernel")
    _check_length(length)
    return mixer.convolution_kernel(length)


def impulse_response(
    mixer: AbstractMixer, length: int, *, amplitude: float = 1.0
) -> Float[Array, "length d_model d_model"]:
    """Measured response R[k, i, j] = (y_k)_i to u = amplitude * e_j at time 0, / amplitude.

    Runs `mixer(...)` on one impulse per input channel (vmapped) and subtracts the response
    to zero input (nonzero only for layers with biases). For a linear layer R = kernel + D at
    k = 0; for a nonlinear one it is the response to that impulse (a small amplitude gives
    the linearisation around the zero input).
    """
    _check_length(length)
    d = mixer.d_model
    zero = jnp.zeros((length, d), _param_dtype(mixer))
    base = mixer(zero)

    def one(j):
        x = zero.at[0, j].set(amplitude)
        return (mixer(x) - base) / amplitude

    r = jax.vmap(one)(jnp.arange(d))  # (H_in, L, H_out)
    return jnp.transpose(r, (1, 2, 0))


# --------------------------------------------------------------------------------------------
# Forward signal propagation: the state variance (Prop. 3)


def _state_vector(mixer: AbstractRecurrentMixer, state) -> Array:
    """The recurrent state that Prop. 3 is about (`mixer.state_vector`), flattened to (n,)."""
    vector = mixer.state_vector(state)
    if not isinstance(vector, jax.Array):
        raise ValueError(
            f"state_variance: {_name(mixer)}'s step state is a {type(vector).__name__}, not "
            "one array; its state_vector(state) must say which part to read"
        )
    return vector.reshape(-1)


def hidden_states(
    mixer: AbstractRecurrentMixer, x: Float[Array, "seq d_model"]
) -> Inexact[Array, "seq n"]:
    """The hidden state after each step, running `mixer.step` from `mixer.init_state()`.

    The part of the state that `mixer.state_vector` reads: the S4 state is its x (not the
    fixed Cbar), the LSTM state its cell c, the RG-LRU state its h (not the conv buffer).
    """
    _require(mixer, AbstractRecurrentMixer, "hidden_states")
    if x.ndim != 2 or x.shape[1] != mixer.d_model:
        raise ValueError(
            f"hidden_states expects x of shape (seq, d_model={mixer.d_model}), got {x.shape}"
        )

    def body(state, x_t):
        state, _ = mixer.step(state, x_t)
        return state, _state_vector(mixer, state)

    _, hs = jax.lax.scan(body, mixer.init_state(), x)
    return hs


def state_variance(
    mixer: AbstractRecurrentMixer, length: int, *, key: PRNGKeyArray, num_samples: int = 64
) -> Float[Array, " seq"]:
    """Measured E|x_k|^2 (mean over the state's coordinates) for u_k ~ N(0, I) iid.

    Monte Carlo over `num_samples` white-noise sequences of `length` steps, through `step`.
    """
    _require(mixer, AbstractRecurrentMixer, "state_variance")
    _check_length(length)
    _check_length(num_samples, "num_samples")
    u = jax.random.normal(key, (num_samples, length, mixer.d_model), _param_dtype(mixer))
    hs = jax.vmap(lambda x: hidden_states(mixer, x))(u)
    return jnp.mean(jnp.abs(hs) ** 2, axis=(0, 2))


def predicted_state_variance(mixer: AbstractLinearMixer, length: int) -> Float[Array, " seq"]:
    """E|x_k|^2 (mean over coordinates) for u ~ N(0, I), in closed form (paper Prop. 3).

    Diagonal: E|x_{k,j}|^2 = ||B_j||^2 (1 - |lambda_j|^(2(k+1))) / (1 - |lambda_j|^2), which
    tends to E|B u|^2 / (1 - |lambda|^2); with gamma folded into B, gamma^2 cancels the
    1 / (1 - |lambda|^2). Dense: Sigma_k = A Sigma_{k-1} A^* + B B^*, trace / n.
    """
    _require(mixer, AbstractLinearMixer, "predicted_state_variance")
    _check_length(length)
    system = mixer.linear_system()
    real = system.D.dtype
    if system.diagonal:
        b2 = jnp.sum(jnp.abs(system.B) ** 2, axis=1)  # (n,)
        r2 = jnp.abs(system.A) ** 2
        k = jnp.arange(1, length + 1, dtype=real)[:, None]
        per_mode = b2 * (1.0 - r2**k) / (1.0 - r2)
        return jnp.mean(per_mode, axis=1).astype(real)
    a, b = system.A, system.B
    bb = b @ b.conj().T

    def body(sigma, _):
        sigma = a @ sigma @ a.conj().T + bb
        return sigma, jnp.trace(sigma).real / a.shape[0]

    _, out = jax.lax.scan(body, jnp.zeros_like(bb), None, length=length)
    return out.astype(real)


def ring_variance(r_min: float, r_max: float) -> float:
    """E||x||^2 / E||B u||^2 at stationarity for lambda uniform on the ring r_min..r_max.

    Paper Prop. 3: log((1 - r_min^2) / (1 - r_max^2)) / (r_max^2 - r_min^2), which is the
    mean of 1 / (1 - |lambda|^2) over |lambda|^2 ~ U[r_min^2, r_max^2]; 1 / (1 - r^2) when
    r_min = r_max; infinite when r_max = 1.
    """
    if not 0.0 <= r_min <= r_max <= 1.0:
        raise ValueError(f"need 0 <= r_min <= r_max <= 1, got r_min={r_min}, r_max={r_max}")
    if r_max == 1.0:
        return math.inf
    lo, hi = r_min**2, r_max**2
    if hi - lo < 1e-12:
        return 1.0 / (1.0 - hi)
    return math.log((1.0 - lo) / (1.0 - hi)) / (hi - lo)


def without_gamma(mixer: GammaRNN) -> GammaRNN:
    """The same LRU (or DiagonalRNN with gamma) with its normalisation gamma set to 1: a
    mixer of the same type, so every function here takes it."""
    if not isinstance(mixer, LRU | DiagonalRNN) or mixer.gamma_log is None:
        raise ValueError(
            f"without_gamma expects an LRU or a DiagonalRNN with gamma=True, got {_name(mixer)}"
        )
    gamma_log = mixer.gamma_log
    return eqx.tree_at(lambda m: m.gamma_log, mixer, jnp.zeros_like(gamma_log))


# --------------------------------------------------------------------------------------------
# Backward signal propagation: how far the gradient reaches


def gradient_reach(
    mixer: AbstractMixer, length: int, *, key: PRNGKeyArray, num_samples: int = 4
) -> Float[Array, " length"]:
    """g[k] = ||d y_{L-1} / d u_{L-1-k}||_F for k = 0..L-1, mean over white-noise inputs.

    How strongly the output at the last step depends on the input k steps back (jax.grad
    through the layer, so any layer works). For a linear layer it does not depend on the
    input: g[k] = ||K_k|| (+ D at k = 0).
    """
    _check_length(length)
    _check_length(num_samples, "num_samples")
    u = jax.random.normal(key, (num_samples, length, mixer.d_model), _param_dtype(mixer))

    def one(x):
        jac = jax.jacrev(lambda z: mixer(z)[-1])(x)  # (H_out, L, H_in)
        norms = jnp.sqrt(jnp.sum(jac**2, axis=(0, 2)))  # (L,)
        return norms[::-1]

    return jnp.mean(jax.vmap(one)(u), axis=0)
