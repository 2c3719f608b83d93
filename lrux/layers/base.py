"""The mixer contract in code: what every sequence mixer of lrux is, and what it can do.

A mixer is an immutable `eqx.Module` built as ``Mixer(d_model, d_state, *, key, **options)``
that maps ONE unbatched sequence (seq, d_model) -> (seq, d_model) (batch with `jax.vmap`).
What else it can do is its type, a small hierarchy (as diffrax's solvers):

- `AbstractMixer`: the whole sequence at once. The static field `d_model`, the class variable
  `recurrent_params` (the field names that the paper trains at lr * lr_factor without weight
  decay; `()` for a mixer with nothing to train slowly) and `__call__(x, *, length=None,
  key=None)`.
- `AbstractRecurrentMixer`: causal, and runs one step at a time: + `d_state`,
  `init_state()`, `step(state, x_t)`; folding `step` over the sequence from `init_state()`
  gives `__call__`'s output. `state_vector(state)` says which part of the state the
  state-variance tools read (default: the state itself).
- `AbstractLinearMixer`: linear and time-invariant, x_k = A x_{k-1} + B u_k,
  y_k = Re(C x_k) + D u_k: + `linear_system()`; `eigenvalues()` and
  `convolution_kernel(length)` follow from it unless a layer has a better way.
- `AbstractDiagonalMixer`: A is a diagonal (n,) and the read-out C is a set of named fields
  (`readout_fields`) beside the skip `D`: what the shared bidirectional forms
  (`lrux.layers.bidirectional.SharedBidirectional`) need to read the same recurrence
  backwards with a second C.

A subclass that leaves out an abstract method, field or class variable cannot be built
(TypeError when it is instantiated). `lrux.signal` and the registry read capabilities from
these types (`isinstance` / `issubclass`), never from flags.

Padding: `length` (a scalar int, default the whole sequence) says that positions
>= length are padding. The outputs at positions < length must not depend on the padding
(neither its values nor how much of it there is), so that a padded batch gives every
sequence the result it has alone. A causal mixer meets this by construction and may ignore
`length`; a mixer that reads the future (the bidirectional forms) runs its backward pass
from position length - 1 (`reverse_within`).

Input contract: `x` may have any real dtype (ints, float16, bfloat16, ...) and any length,
including 0; the output has the floating dtype of `x` promoted with the parameters' (float32
parameters: float32 out). Also here: the input checks shared by every layer.
"""

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Complex, Float, Inexact, Int, PRNGKeyArray, PyTree, Real, Shaped

from lrux.scan import SCAN_MODES, linear_scan

if TYPE_CHECKING:  # pyright reads equinox's alias of ClassVar only when written here
    from typing import ClassVar as AbstractClassVar
else:
    from equinox import AbstractClassVar

# --------------------------------------------------------------------------------------------
# Input checks shared by the layers


def check_sizes(d_model: int, d_state: int) -> None:
    """Raise ValueError unless both sizes are positive integers."""
    for name, value in (("d_model", d_model), ("d_state", d_state)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_sequence(x: Array, d_model: int, layer: str) -> None:
    """Raise ValueError unless x is one unbatched (seq, d_model) sequence."""
    if x.ndim != 2 or x.shape[1] != d_model:
        hint = " (batch with jax.vmap)" if x.ndim == 3 else ""
        raise ValueError(
            f"{layer} expects one sequence of shape (seq, d_model={d_model}), "
            f"got shape {x.shape}{hint}"
        )


def check_step(x_t: Array, d_model: int, layer: str) -> None:
    """Raise ValueError unless x_t is one input vector (d_model,)."""
    if x_t.shape != (d_model,):
        raise ValueError(f"{layer}.step expects x_t of shape ({d_model},), got {x_t.shape}")


def check_choice(name: str, value: object, choices: Sequence[str], layer: str = "") -> None:
    """Raise ValueError unless `value` is one of `choices` (the arguments of a Literal)."""
    if value not in choices:
        prefix = f"{layer}: " if layer else ""
        raise ValueError(f"{prefix}{name} must be one of {tuple(choices)}, got {value!r}")


def check_scan_mode(scan_mode: str) -> None:
    """Raise ValueError unless scan_mode is one of `lrux.scan.SCAN_MODES`."""
    check_choice("scan_mode", scan_mode, SCAN_MODES)


def reverse_within(x: Shaped[Array, "seq *rest"], length: Int[Array, ""] | int | None
                   ) -> Shaped[Array, "seq *rest"]:
    """x with its first `length` positions reversed along axis 0 and the rest (padding) left
    in place: position t < length reads t' = length - 1 - t. Its own inverse; `length=None`
    is the whole sequence (`jnp.flip`)."""
    if length is None:
        return jnp.flip(x, 0)
    t = jnp.arange(x.shape[0])
    return x[jnp.where(t < length, length - 1 - t, t)]


def floating(x: Array, like: Array) -> Array:
    """x cast to its dtype promoted with `like`'s (ints and float16 -> float32 parameters)."""
    return x.astype(jnp.result_type(x.dtype, like.dtype))


# --------------------------------------------------------------------------------------------
# Linear systems


def dense_eigenvalues(a: Inexact[Array, "*batch n n"]) -> Complex[Array, "*batch n"]:
    """eig(a) in numpy float64 / complex128 (works on every backend), in a's complex dtype."""
    wide = np.complex128 if jnp.iscomplexobj(a) else np.float64
    lam = np.linalg.eigvals(np.asarray(a, wide))
    return jnp.asarray(lam).astype(jnp.result_type(a.dtype, jnp.complex64))


def block_diagonal_inputs(
    bbar: Complex[Array, "d_model m"], cvec: Complex[Array, "d_model m"]
) -> tuple[Complex[Array, "hm d_model"], Complex[Array, "d_model hm"]]:
    """Per-channel SISO (H, m) Bbar and C -> the block (H*m, H) B and (H, H*m) C."""
    h, m = bbar.shape
    eye = jnp.eye(h, dtype=bbar.dtype)
    b = (bbar[:, :, None] * eye[:, None, :]).reshape(h * m, h)  # B[h*m + j, h] = bbar[h, j]
    c = (cvec[None, :, :] * eye[:, :, None].astype(cvec.dtype)).reshape(h, h * m)
    return b, c


def diagonal_kernel(k: Float[Array, "d_model length"]) -> Float[Array, "length d_model d_model"]:
    """Per-channel kernels (H, L) -> kernel matrices (L, H, H), diagonal across channels."""
    eye = jnp.eye(k.shape[0], dtype=k.dtype)
    return k.T[:, :, None] * eye[None]


class LinearSystem(NamedTuple):
    """x_k = A x_{k-1} + B u_k, y_k = Re(C x_k) + D u_k, x_{-1} = 0.

    `A` is (n,) for a diagonal recurrence or (n, n) dense; `B` (n, d_model), `C`
    (d_model, n), complex; `D` (d_model,) real. Conjugate-symmetric layers (S4D, S5) keep one
    mode per pair, with the factor 2 of their 2 Re(...) readout folded into C.
    """

    A: Inexact[Array, "..."]
    B: Inexact[Array, "n d_model"]
    C: Inexact[Array, "d_model n"]
    D: Float[Array, " d_model"]

    @property
    def diagonal(self) -> bool:
        return self.A.ndim == 1

    def eigenvalues(self) -> Complex[Array, " n"]:
        """The eigenvalues of A (A itself when diagonal)."""
        return self.A if self.diagonal else dense_eigenvalues(self.A)

    def powers_times_b(self, length: int) -> Inexact[Array, "length n d_model"]:
        """A^k B for k < length."""
        if self.diagonal:
            delta = jnp.zeros((length,) + self.A.shape, self.A.dtype).at[0].set(1.0)
            powers = linear_scan(self.A, delta, mode="sequential")  # lambda^k, exact products
            return powers[:, :, None] * self.B[None]

        def body(m, _):
            return self.A @ m, m

        _, out = jax.lax.scan(body, self.B, None, length=length)
        return out

    def kernel(self, length: int) -> Float[Array, "length d_model d_model"]:
        """K_k = Re(C A^k B), k < length (without the D skip), in closed form."""
        ab = self.powers_times_b(length)  # (L, n, H)
        return jnp.einsum("on,knh->koh", self.C, ab).real.astype(self.D.dtype)


# --------------------------------------------------------------------------------------------
# The contract


class AbstractMixer(eqx.Module):
    """A sequence mixer over the whole sequence: (seq, d_model) -> (seq, d_model)."""

    d_model: eqx.AbstractVar[int]
    recurrent_params: AbstractClassVar[tuple[str, ...]]

    @abc.abstractmethod
    def __call__(
        self,
        x: Real[Array, "seq d_model"],
        *,
        length: Int[Array, ""] | int | None = None,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "seq d_model"]:
        """The layer over one whole sequence whose positions >= `length` are padding (the
        outputs before `length` do not depend on them); `key` for layers with randomness."""


class AbstractRecurrentMixer(AbstractMixer):
    """A causal mixer that also runs one step at a time: folding `step` over the sequence
    from `init_state()` gives `__call__` (which may ignore `length`: it is causal)."""

    d_state: eqx.AbstractVar[int]

    @abc.abstractmethod
    def init_state(self) -> PyTree:
        """The recurrent state before the first step."""

    @abc.abstractmethod
    def step(
        self, state: PyTree, x_t: Real[Array, " d_model"]
    ) -> tuple[PyTree, Float[Array, " d_model"]]:
        """One step: (state_{k-1}, u_k) -> (state_k, y_k)."""

    def state_vector(self, state: PyTree) -> Inexact[Array, "..."]:
        """The part of the `step` state that the state-variance tools read (a fact a layer
        may state, like diffrax's `order()`; default: the state itself)."""
        return state


class AbstractLinearMixer(AbstractRecurrentMixer):
    """A linear time-invariant recurrent mixer: x_k = A x_{k-1} + B u_k,
    y_k = Re(C x_k) + D u_k, with its state the one `step` carries."""

    @abc.abstractmethod
    def linear_system(self) -> LinearSystem:
        """(A, B, C, D), A diagonal (n,) or dense (n, n)."""

    def eigenvalues(self) -> Complex[Array, " modes"]:
        """The discrete-time eigenvalues of the recurrence, one per state mode."""
        return self.linear_system().eigenvalues()

    def convolution_kernel(self, length: int) -> Float[Array, "length d_model d_model"]:
        """K_k = Re(C A^k B), k < length: y_t = sum_{k <= t} K_k u_{t-k} + D u_t."""
        return self.linear_system().kernel(length)


Diagonal = TypeVar("Diagonal", bound="AbstractDiagonalMixer")


class AbstractDiagonalMixer(AbstractLinearMixer):
    """A linear mixer whose A is diagonal (`linear_system().A` is (n,)), with its read-out C
    stored in the fields `readout_fields` and its skip in `D`: y = readout(states) + D u.

    That is what the shared bidirectional forms need: the same mixer with another C (the
    arrays of `readout_fields` replaced) and no skip reads the reversed sequence
    (`SharedBidirectional`), so a new diagonal rung gets them with nothing more to write.
    """

    D: eqx.AbstractVar[Float[Array, " d_model"]]
    readout_fields: AbstractClassVar[tuple[str, ...]]

    def readout(self) -> dict[str, Array]:
        """The read-out arrays by field name (what a second read-out replaces)."""
        return {name: getattr(self, name) for name in self.readout_fields}

    def reading_out(self: "Diagonal", readout: dict[str, Array]) -> "Diagonal":
        """This mixer with its read-out arrays replaced by `readout` and no skip (D = 0):
        y = readout(states) alone."""
        names = self.readout_fields
        return eqx.tree_at(
            lambda m: [getattr(m, n) for n in names] + [m.D],
            self,
            [readout[n] for n in names] + [jnp.zeros_like(self.D)],
        )
