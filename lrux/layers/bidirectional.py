"""A bidirectional wrapper for any sequence mixer (paper section 2: Pathfinder and PathX).

One mixer reads the sequence forwards, a second one reads it reversed (its output flipped
back), and the two are combined: ``"concat"`` concatenates them and projects 2H -> H with a
linear layer (the default), ``"sum"`` adds them. (The S5-style "shared" form, one recurrence
read in both directions, belongs to the mixers that have it: `S5` and `LRU` with
``bidirectional=True``; `lrux.make_mixer` chooses between them.)
"""

from collections.abc import Callable
from typing import ClassVar, Literal, get_args

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray, Real

from lrux.layers.base import AbstractMixer, check_choice, check_sequence, reverse_within

Combine = Literal["concat", "sum"]
COMBINES: tuple[str, ...] = get_args(Combine)
_NO_STEP = (
    "a bidirectional mixer reads the whole sequence (its backward pass starts at the end), so "
    "it has no recurrent step mode; use a causal mixer for step()"
)


class Bidirectional(AbstractMixer):
    """forward(x) and flip(backward(flip(x))), combined: (seq, d_model) -> (seq, d_model).

    With `length`, the flips are over the first `length` positions only (`reverse_within`),
    so the outputs before `length` do not depend on the padding after it.

    It reads the whole sequence, so it has no step mode and no linear system: `init_state`,
    `step` and `linear_system` raise.
    """

    forward: AbstractMixer
    backward: AbstractMixer
    proj: eqx.nn.Linear | None
    d_model: int = eqx.field(static=True)
    combine: str = eqx.field(static=True)

    recurrent_params: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        forward: AbstractMixer,
        backward: AbstractMixer,
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
        make: Callable[[PRNGKeyArray], AbstractMixer],
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

    def init_state(self):
        raise TypeError(_NO_STEP)

    def step(self, state, x_t):
        raise TypeError(_NO_STEP)

    def linear_system(self):
        raise NotImplementedError(
            "Bidirectional is not causal (its backward pass reads the future), so it is not "
            "one linear recurrence; inspect its `forward` and `backward` mixers"
        )
