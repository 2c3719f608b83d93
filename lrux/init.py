"""Initialisers shared by the recurrent layers: ring / disk eigenvalues and Glorot matrices.

Paper section 1 (Lemma 2) and section 6 (circular law).
"""

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray


def check_ring(r_min: float, r_max: float, max_phase: float) -> None:
    """Raise ValueError unless 0 <= r_min <= r_max <= 1 and max_phase > 0."""
    if not 0.0 <= r_min:
        raise ValueError(f"r_min must be >= 0, got r_min={r_min}")
    if r_min > r_max:
        raise ValueError(f"r_min must be <= r_max, got r_min={r_min} > r_max={r_max}")
    if r_max > 1.0:
        raise ValueError(
            f"r_max must be <= 1 (|lambda| < 1 keeps the recurrence stable; r_max=1 is the "
            f"uniform disk), got r_max={r_max}"
        )
    if not max_phase > 0:
        raise ValueError(f"max_phase must be > 0, got max_phase={max_phase}")


def ring_init(
    key: PRNGKeyArray, n: int, r_min: float, r_max: float, max_phase: float
) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    """Eigenvalues uniform on the ring r_min <= |lambda| <= r_max, phase in [0, max_phase].

    Returns (nu, theta) with lambda = exp(-nu + i theta): |lambda|^2 = exp(-2 nu) is uniform
    on [r_min^2, r_max^2] (paper Lemma 2). r_max = 1 is allowed here (the uniform disk); the
    draw u1 is kept away from the boundary so nu > 0 and |lambda| < 1 strictly.
    """
    check_ring(r_min, r_max, max_phase)
    k1, k2 = jax.random.split(key)
    u1 = jax.random.uniform(k1, (n,), minval=1e-7, maxval=1.0 - 1e-7)
    u2 = jax.random.uniform(k2, (n,), minval=1e-7, maxval=1.0)
    nu = -0.5 * jnp.log(u1 * (r_max**2 - r_min**2) + r_min**2)
    nu = jnp.maximum(nu, 1e-7)
    theta = max_phase * u2
    return nu, theta


def disk_init(key: PRNGKeyArray, n: int) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    """Eigenvalues uniform on the unit disk: the diagonal equivalent of Glorot (circular law).

    Returns (nu, theta) with lambda = exp(-nu + i theta).
    """
    return ring_init(key, n, 0.0, 1.0, 2 * math.pi)


def glorot_matrix(key: PRNGKeyArray, n_out: int, n_in: int) -> Float[Array, "n_out n_in"]:
    """Dense matrix with iid N(0, 1/n_in) entries (paper section 6: Glorot, circular law)."""
    return jax.random.normal(key, (n_out, n_in)) / math.sqrt(n_in)
