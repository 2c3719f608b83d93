"""The bidirectional forms (paper section 2: Pathfinder and PathX): wrappers that read the
sequence forwards and backwards. They are `AbstractMixer`s only: they read the whole sequence,
so they have no step mode and no linear system (no `step`, no `linear_system` at all).

- `Bidirectional(forward, backward)`: two independent causal mixers (any
  `AbstractRecurrentMixer`), the second reading the sequence reversed (its output flipped
  back), combined by ``"concat"`` (concatenate, then a Linear 2H -> H; the default) or
  ``"sum"``.
- `SharedBidirectional(mixer, backward_readout)`: ONE diagonal mixer (any
  `AbstractDiagonalMixer`) read in both directions: its A, B (and step, gain) are shared, its
  own C reads the forward states, a second C (`backward_readout`, drawn as the mixer draws its
  C) the backward ones, one D:

      y_t = Re(C h_t) + Re(C' h'_{t+o}) + D u_t,  h_t = A h_{t-1} + B u_t,
      h'_t = A h'_{t+1} + B u_t  (h'_t = 0 from position `length` on),

  with o = 0 for ``"shared"`` (S5's form: the backward scan includes the current position)
  and o = 1 for ``"shared_from_next"`` (s4's S4D form: the anti-causal part starts at the
  next position, y_t = sum_{s<=t} K0[t-s] u_s + sum_{s>t} K1[s-t-1] u_s + D u_t). The backward
  part is the mixer itself with C' in place of C and no D, run on the reversed sequence, so it
  is computed the mixer's way (the LRU's fused scan, S5's parallel scan, S4D's FFT
  convolution).

With `length`, every reversal is over the first `length` positions only (`reverse_within`),
so the outputs before `length` do not depend on the padding after it.
"""

from collections.abc import Callable
from typing import ClassVar, Literal, get_args

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray, Real

from lrux.layers.base import (
    AbstractDiagonalMixer,
    AbstractMixer,
    AbstractRecurrentMixer,
    check_choice,
    check_sequence,
    reverse_within,
)

Combine = Literal["concat", "sum"]
SharedCombine = Literal["shared", "shared_from_next"]
COMBINES: tuple[str, ...] = get_args(Combine)
SHARED_COMBINES: tuple[str, ...] = get_args(SharedCombine)


class Bidirectional(AbstractMixer):
    """forward(x) and flip(backward(flip(x))), combined: (seq, d_model) -> (seq, d_model)."""

    forward: AbstractRecurrentMixer
    backward: AbstractRecurrentMixer
    proj: eqx.nn.Linear | None
    d_model: int = eqx.field(static=True)
    combine: str = eqx.field(static=True)

    recurrent_params: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        forward: AbstractRecurrentMixer,
        backward: AbstractRecurrentMixer,
        d_model: int,
        *,
        combine: Combine = "concat",
        key: PRNGKeyArray,
    ):
        check_choice("combine", combine, COMBINES)
        self.forward = forward
        self.backward = backward
        self.proj = eqx.nn.Linear(2 * d_model, d_model, key=key) if combine == "concat" else None
        self.d_model = d_model
        self.combine = combine

    @property
    def d_state(self) -> int:
        """The state size of each direction."""
        return self.forward.d_state

    @classmethod
    def from_factory(
        cls,
        make: Callable[[PRNGKeyArray], AbstractRecurrentMixer],
        d_model: int,
        *,
        combine: Combine = "concat",
        key: PRNGKeyArray,
    ) -> "Bidirectional":
        """Two independent mixers from `make(key)`, one per direction."""
        k_fwd, k_bwd, k_proj = jax.random.split(key, 3)
        return cls(make(k_fwd), make(k_bwd), d_model, combine=combine, key=k_proj)

    def __call__(
        self,
        x: Real[Array, "seq d_model"],
        *,
        length: Int[Array, ""] | int | None = None,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "seq d_model"]:
        check_sequence(x, self.d_model, "Bidirectional")
        y_fwd = self.forward(x, length=length)
        # the backward mixer reads the valid part backwards from position length - 1, so
        # padding (after it in both orders) never reaches a valid output
        y_bwd = reverse_within(self.backward(reverse_within(x, length), length=length), length)
        if self.proj is None:
            return y_fwd + y_bwd
        return jax.vmap(self.proj)(jnp.concatenate([y_fwd, y_bwd], axis=-1))


class SharedBidirectional(AbstractMixer):
    """One diagonal mixer read forwards (its own C) and backwards (`backward_readout`), one D
    (module docstring): (seq, d_model) -> (seq, d_model)."""

    mixer: AbstractDiagonalMixer
    backward_readout: dict[str, Array]
    d_model: int = eqx.field(static=True)
    from_next: bool = eqx.field(static=True)

    recurrent_params: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        mixer: AbstractDiagonalMixer,
        backward_readout: dict[str, Array],
        *,
        combine: SharedCombine = "shared",
    ):
        check_choice("combine", combine, SHARED_COMBINES)
        want = set(mixer.readout_fields)
        if set(backward_readout) != want:
            raise ValueError(f"backward_readout must have the keys {sorted(want)} (the "
                             f"read-out of {type(mixer).__name__}), got {sorted(backward_readout)}")
        self.mixer = mixer
        self.backward_readout = dict(backward_readout)
        self.d_model = mixer.d_model
        self.from_next = combine == "shared_from_next"

    @property
    def d_state(self) -> int:
        """The state size of the shared recurrence."""
        return self.mixer.d_state

    @property
    def combine(self) -> str:
        """"shared_from_next" (the anti-causal part from t + 1) or "shared" (from t)."""
        return "shared_from_next" if self.from_next else "shared"

    @classmethod
    def from_factory(
        cls,
        make: Callable[[PRNGKeyArray], AbstractDiagonalMixer],
        *,
        combine: SharedCombine = "shared",
        key: PRNGKeyArray,
    ) -> "SharedBidirectional":
        """The mixer `make(key)` (the causal mixer of the same key) and a second read-out
        drawn as `make(fold_in(key, 1))` draws its own."""
        mixer = make(key)
        other = make(jax.random.fold_in(key, 1))
        return cls(mixer, other.readout(), combine=combine)

    def __call__(
        self,
        x: Real[Array, "seq d_model"],
        *,
        length: Int[Array, ""] | int | None = None,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "seq d_model"]:
        check_sequence(x, self.d_model, "SharedBidirectional")
        y = self.mixer(x, length=length)
        # C' h'_t: the mixer with C' and no D on the valid part read backwards (position
        # length - 1 first), so padding, after it in both orders, never reaches it
        backward = self.mixer.reading_out(self.backward_readout)
        z = backward(reverse_within(x, length), length=length)
        if self.from_next:  # C' h'_{t+1}: one step later in reversed time, 0 at the start
            z = jnp.concatenate([jnp.zeros_like(z[:1]), z[:-1]])
        return y + reverse_within(z, length)
