"""The test run checks lrux's jaxtyping annotations at runtime (pytest --jaxtyping-packages)."""

import jax.numpy as jnp
import pytest

from lrux.layers.lru import diagonal_recurrence


def test_shape_annotations_are_enforced():
    """B's d_model (3) disagrees with x's (4): only the jaxtyping check can catch this."""
    n, h = 2, 3
    with pytest.raises(TypeError, match="d_model"):
        diagonal_recurrence(
            jnp.zeros((5, 4)),
            jnp.zeros(n),
            jnp.zeros(n),
            None,
            jnp.zeros((n, h)),
            jnp.zeros((n, h)),
            jnp.zeros((h, n)),
            jnp.zeros((h, n)),
            jnp.zeros(h),
        )
