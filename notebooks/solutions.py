"""Reference solutions of the course's exercises (shown by `course.solution(name)`).

A teacher who hands out the notebooks without solutions leaves this file out (or sets
LRUX_HIDE_SOLUTIONS=1); the test suite checks every solution with its `course.check_*`.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np


def kernel(lam, B, C, length):
    """K_j = Re(C diag(lam)^j B) for j < length: (length, H, H)."""
    powers = lam[None, :] ** jnp.arange(length)[:, None]  # (length, N)
    return jnp.einsum("hn,jn,nm->jhm", C, powers, B).real


def diagonalize(A, B, C):
    """(lam, B', C') with A = P diag(lam) P^-1, B' = P^-1 B, C' = C P."""
    lam, P = np.linalg.eig(A)
    return lam, np.linalg.solve(P, B), C @ P


def ring_init(key, n, r_min, r_max, max_phase):
    """lambda uniform on the ring: |lambda|^2 ~ U[r_min^2, r_max^2], phase ~ U[0, max_phase]."""
    k1, k2 = jax.random.split(key)
    u1, u2 = jax.random.uniform(k1, (n,)), jax.random.uniform(k2, (n,))
    nu = -0.5 * jnp.log(u1 * (r_max**2 - r_min**2) + r_min**2)
    return jnp.exp(-nu + 1j * max_phase * u2)


def ring_factor(r_min, r_max):
    """Prop. 3: the mean of 1 / (1 - r^2) over r^2 ~ U[r_min^2, r_max^2]."""
    lo, hi = r_min**2, r_max**2
    if hi - lo < 1e-12:  # a thin ring: every mode has the same |lambda|
        return 1.0 / (1.0 - hi)
    return math.log((1.0 - lo) / (1.0 - hi)) / (hi - lo)


def thin_ring_r_min(r_max=0.9999, factor=100.0):
    """The smallest r_min with ring_factor(r_min, r_max) >= factor, by bisection (the factor
    grows with r_min: the ring loses its fast modes)."""
    lo, hi = 0.0, r_max
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if ring_factor(mid, r_max) >= factor else (mid, hi)
    return hi


def dt_for_radius(radius=0.999):
    """S4D-Lin: |exp(dt A)| = exp(-dt / 2) for Re A = -1/2, so dt = -2 log(radius)."""
    return -2.0 * math.log(radius)


def memory_radius(steps=1024, keep=0.01):
    """|lambda|^steps = keep: |lambda| = keep^(1/steps) (1 - |lambda| ~ log(1/keep) / steps)."""
    return keep ** (1.0 / steps)


def mode_spectrum(lam, omega):
    """|sum_k lam^k e^{-i omega k}| = 1 / |1 - lam e^{-i omega}| (a geometric series)."""
    return np.abs(1.0 / (1.0 - lam * np.exp(-1j * np.asarray(omega))))
