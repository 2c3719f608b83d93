"""A bidirectional wrapper for any sequence mixer (paper section 2: Pathfinder and PathX).

One mixer reads the sequence forwards, a second one reads it reversed (its output flipped
back), and the two are combined: ``"concat"`` concatenates them and projects 2H -> H with a
linear layer (the default), ``"sum"`` adds them.
"""

from collections.abc import Callable
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

COMBINES = ("concat", "sum")


class Bidirectional(eqx.Module):
    """forward(x) and flip(backward(flip(x))), combined: (seq, d_model) -> (seq, d_model)."""

    forward: eqx.Module
    backward: eqx.Module
    proj: eqx.nn.Linear | None
    d_model: int = eqx.field(static=True)
    combine: str = eqx.field(static=True)

    recurrent_params: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        forward: eqx.Module,
        backward: eqx.Module,
        d_model: int,
        *,
        combine: str = "concat",
        key: PRNGKeyArray,
    ):
        if combine not in COMBINES:
            raise ValueError(f"combine must be one of {COMBINES}, got {combine!r}")
        self.forward = forward
        self.backward = backward
        self.proj = eqx.nn.Linear(2 * d_model, d_model, key=key) if combine == "concat" else None
        self.d_model = d_model
        self.combine = combine

    @classmethod
    def from_factory(
        cls,
        make: Callable[[PRNGKeyArray], eqx.Module],
        d_model: int,
        *,
        combine: str = "concat",
        key: PRNGKeyArray,
    ) -> "Bidirectional":
        """Two independent mixers from `make(key)`, one per direction."""
        k_fwd, k_bwd, k_proj = jax.random.split(key, 3)
        return cls(make(k_fwd), make(k_bwd), d_model, combine=combine, key=k_proj)

    def __call__(
        self, x: Float[Array, "seq d_model"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, "seq d_model"]:
        if x.ndim != 2 or x.shape[1] != self.d_model:
            raise ValueError(
                f"Bidirectional expects one sequence of shape (seq, d_model={self.d_model}), "
                f"got shape {x.shape}"
            )
        y_fwd = self.forward(x)
        y_bwd = jnp.flip(self.backward(jnp.flip(x, 0)), 0)
        if self.proj is None:
            return y_fwd + y_bwd
        return jax.vmap(self.proj)(jnp.concatenate([y_fwd, y_bwd], axis=-1))

    def init_state(self):
        raise TypeError(
            "a bidirectional mixer reads the whole sequence (its backward pass starts at the "
            "end), so it has no recurrent step mode; use a causal mixer for step()"
        )

    def step(self, state, x_t):
        return self.init_state()
