"""HiPPO-LegS, its normal / DPLR forms, the S4D initialisations and SSM discretisations.

Reference equations: Gu et al. 2020 (HiPPO), Gu et al. 2022 (S4, S4D), Smith et al. 2023
(S5). The matrices are built in float64 numpy (the eigendecomposition needs it) and the
layers cast them to float32. The discretisation helpers are jax functions used inside the
layers' forward passes.

Conventions (shared with the layers): x_k = Abar x_{k-1} + Bbar u_k, y_k = C x_k + D u_k.
Complex diagonal models keep one mode per conjugate pair and output 2 Re(C x).
"""

import math
from typing import Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Complex, Float, Inexact, PRNGKeyArray

S4DInit = Literal["lin", "inv", "legs", "real"]
Discretization = Literal["zoh", "bilinear"]
S4D_INITS: tuple[str, ...] = get_args(S4DInit)
B_CLIP = 2.0  # s4's `B_clip`: Im(Bt) of the LegS DPLR basis is clipped to [-2, 2]


def _check_size(name: str, n: int, *, even: bool = False) -> None:
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {name}={n!r}")
    if even and n % 2:
        raise ValueError(
            f"{name} must be even (one complex mode per conjugate pair), got {name}={n}"
        )


def legs(n: int) -> tuple[Float[np.ndarray, "n n"], Float[np.ndarray, " n"]]:
    """HiPPO-LegS (A, B), float64.

    A_nk = -sqrt((2n+1)(2k+1)) for n > k, A_nn = -(n+1), 0 above the diagonal;
    B_n = sqrt(2n+1). The eigenvalues of A are -1, ..., -n.
    """
    _check_size("n", n)
    q = np.sqrt(2.0 * np.arange(n) + 1.0)
    a = -np.tril(np.outer(q, q), k=-1) - np.diag(np.arange(n) + 1.0)
    return a, q.copy()


def legs_low_rank(n: int) -> Float[np.ndarray, " n"]:
    """The rank-1 factor P_n = sqrt(n + 1/2) with A = A_N - P P^T (S4, section 3)."""
    _check_size("n", n)
    return np.sqrt(np.arange(n) + 0.5)


def legs_normal(
    n: int,
) -> tuple[Float[np.ndarray, "n n"], Float[np.ndarray, " n"], Float[np.ndarray, " n"]]:
    """Normal part of HiPPO-LegS: (A_N, P, B) with A_N = A + P P^T = -I/2 + S, S skew."""
    a, b = legs(n)
    p = legs_low_rank(n)
    return a + np.outer(p, p), p, b


def legs_nplr(
    n: int,
) -> tuple[
    Complex[np.ndarray, " n"],
    Complex[np.ndarray, "n n"],
    Float[np.ndarray, " n"],
    Float[np.ndarray, " n"],
]:
    """Eigendecomposition of the normal part: A_N = V diag(Lambda) V^*, V unitary.

    Returns (Lambda, V, P, B) with Lambda = -1/2 + i w, w the eigenvalues (ascending) of the
    Hermitian matrix -i S from a float64 Hermitian eigensolver. So
    A = V (diag(Lambda) - (V^* P)(V^* P)^*) V^* (normal plus low rank).
    """
    a_n, p, b = legs_normal(n)
    s = a_n + 0.5 * np.eye(n)  # skew-symmetric part
    w, v = np.linalg.eigh(-1j * s)
    lam = -0.5 + 1j * w
    return lam, v, p, b


def legs_dplr(
    n: int, *, clip_b: float | None = B_CLIP
) -> tuple[
    Complex[np.ndarray, " m"],
    Complex[np.ndarray, " m"],
    Complex[np.ndarray, " m"],
    Complex[np.ndarray, "n m"],
]:
    """DPLR form of HiPPO-LegS with one mode per conjugate pair: (Lambda, Pt, Bt, V).

    Keeps the m = n/2 eigenvalues with Im < 0 (sorted by Im ascending) and their
    eigenvectors V[:, :m]; Pt = V^* P, Bt = V^* B on those modes. The full system is the
    kept half plus its complex conjugate. As in the references, Im(Bt) is clipped to
    [-clip_b, clip_b] (None: no clipping).
    """
    _check_size("n", n, even=True)
    lam, v, p, b = legs_nplr(n)
    order = np.argsort(np.imag(lam), kind="stable")
    lam, v = lam[order], v[:, order]
    m = n // 2
    lam, v = lam[:m], v[:, :m]
    pt = v.conj().T @ p
    bt = v.conj().T @ b
    if clip_b is not None:
        bt = np.real(bt) + 1j * np.clip(np.imag(bt), -clip_b, clip_b)
    return lam, pt, bt, v


def s4d_init(
    init: S4DInit, n: int
) -> tuple[Complex[np.ndarray, " m"], Complex[np.ndarray, " m"]]:
    """S4D diagonal initialisations (Gu et al. 2022b): (A, B) for m = n/2 kept modes.

    "lin": A_k = -1/2 + i pi k; "inv": A_k = -1/2 + i (n/pi)(n/(2k+1) - 1);
    "legs": the diagonal part Lambda of the DPLR HiPPO-LegS with B = V^* B_legs, Im(B)
    clipped to [-B_CLIP, B_CLIP] as s4 does for S4D-LegS (its `dplr(init="legs")` takes B from
    `nplr("legs", N, B_clip=2.0)`; unclipped, max |Im B| grows like 0.64 n: 41 at n = 64);
    "real": A_k = -(k+1). B = 1 except for "legs". k = 0, ..., n/2 - 1.
    """
    _check_size("n", n, even=True)
    m = n // 2
    k = np.arange(m, dtype=np.float64)
    ones = np.ones(m, dtype=np.complex128)
    if init == "lin":
        return -0.5 + 1j * math.pi * k, ones
    if init == "inv":
        return -0.5 + 1j * (n / math.pi) * (n / (2 * k + 1) - 1), ones
    if init == "legs":
        lam, _, bt, _ = legs_dplr(n, clip_b=B_CLIP)
        return lam, bt
    if init == "real":
        return -(k + 1.0) + 0j, ones
    raise ValueError(f"init must be one of {S4D_INITS}, got init={init!r}")


def zoh(
    lam: Inexact[Array, "..."], b: Inexact[Array, "..."], dt: Float[Array, "..."]
) -> tuple[Complex[Array, "..."], Complex[Array, "..."]]:
    """Zero-order hold of a diagonal system: Lbar = exp(dt L), Bbar = (Lbar - 1)/L * B.

    Shapes broadcast (e.g. lam (H, m), b (H, m), dt (H, 1)). lam must be nonzero.
    """
    lam = lam.astype(jnp.result_type(lam.dtype, jnp.complex64))
    lbar = jnp.exp(dt * lam)
    return lbar, (lbar - 1.0) / lam * b


def bilinear(
    lam: Inexact[Array, "..."], b: Inexact[Array, "..."], dt: Float[Array, "..."]
) -> tuple[Complex[Array, "..."], Complex[Array, "..."]]:
    """Bilinear (Tustin) discretisation of a diagonal system.

    Lbar = (1 + dt L/2) / (1 - dt L/2), Bbar = dt B / (1 - dt L/2). Shapes broadcast.
    """
    lam = lam.astype(jnp.result_type(lam.dtype, jnp.complex64))
    den = 1.0 - 0.5 * dt * lam
    return (1.0 + 0.5 * dt * lam) / den, dt * b / den


def bilinear_dense(
    a: Inexact[Array, "n n"], b: Inexact[Array, "n ..."], dt: Float[Array, ""] | float
) -> tuple[Inexact[Array, "n n"], Inexact[Array, "n ..."]]:
    """Bilinear discretisation of a dense system.

    Abar = (I - dt/2 A)^-1 (I + dt/2 A), Bbar = (I - dt/2 A)^-1 dt B.
    """
    eye = jnp.eye(a.shape[0], dtype=a.dtype)
    left = eye - 0.5 * dt * a
    abar = jnp.linalg.solve(left, eye + 0.5 * dt * a)
    bbar = jnp.linalg.solve(left, dt * b)
    return abar, bbar


DISCRETIZATIONS = {"zoh": zoh, "bilinear": bilinear}  # keys: get_args(Discretization)


def discretize(
    method: Discretization,
    lam: Inexact[Array, "..."],
    b: Inexact[Array, "..."],
    dt: Float[Array, "..."],
) -> tuple[Complex[Array, "..."], Complex[Array, "..."]]:
    """Dispatch to `zoh` or `bilinear` by name."""
    if method not in DISCRETIZATIONS:
        raise ValueError(f"discretization must be one of {tuple(DISCRETIZATIONS)}, got {method!r}")
    return DISCRETIZATIONS[method](lam, b, dt)


def log_dt_init(
    key: PRNGKeyArray, shape: tuple[int, ...], dt_min: float, dt_max: float
) -> Float[Array, "..."]:
    """log dt ~ U[log dt_min, log dt_max] (S4 / S4D / S5)."""
    if not 0.0 < dt_min <= dt_max:
        raise ValueError(f"need 0 < dt_min <= dt_max, got dt_min={dt_min}, dt_max={dt_max}")
    return jax.random.uniform(key, shape, minval=math.log(dt_min), maxval=math.log(dt_max))
