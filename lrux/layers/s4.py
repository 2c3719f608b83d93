"""S4: the structured state-space model with a diagonal-plus-low-rank state matrix
(Gu et al. 2022, "Efficiently modeling long sequences with structured state spaces"), in the
LRU paper's comparison (section 4).

Per channel h (SISO), with N states kept as N/2 conjugate pairs:

    A = diag(Lambda) - P P^*   (HiPPO-LegS in its DPLR basis at init),
    bilinear discretisation: Abar = (I - dt/2 A)^-1 (I + dt/2 A), Bbar = (I - dt/2 A)^-1 dt B,
    y = K * u + D u,  K_l = C^T Abar^l Bbar, l < l_max.

The trained output vector is Ct^T = C^T (I - Abar^l_max), so the truncated generating
function sum_{l < l_max} K_l z^l = Ct^T (I - Abar z)^-1 Bbar is evaluated at the roots of
unity with the Cauchy kernel and the Woodbury identity (no matrix powers), and K is its
inverse FFT. `step` runs the bilinear recurrence in O(N) per channel.
"""

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Complex, Float, Int, PRNGKeyArray, Real

from lrux import hippo
from lrux.layers.base import (
    AbstractLinearMixer,
    LinearSystem,
    block_diagonal_inputs,
    check_sequence,
    check_sizes,
    check_step,
    dense_eigenvalues,
    diagonal_kernel,
)
from lrux.layers.s4d import fft_conv


def _full(re: Array, im: Array) -> Array:
    """(H, N/2) real parts -> (H, N) complex: the kept modes and their conjugates."""
    v = jax.lax.complex(re, im)
    return jnp.concatenate([v, v.conj()], axis=-1)


def cauchy_kernel(
    lam: Complex[Array, "d_model n"],
    p: Complex[Array, "d_model n"],
    b: Complex[Array, "d_model n"],
    c: Complex[Array, "d_model n"],
    dt: Float[Array, " d_model"],
    length: int,
) -> Float[Array, "d_model klen"]:
    """Kernel K_l = C^T Abar^l Bbar (l < length) of a DPLR system by Cauchy + Woodbury.

    `c` is the truncated-generating-function vector Ct = (I - Abar^length)^T C. The
    generating function at w_k = exp(-2 pi i k / length), k = 0..length/2, is
    Khat(w) = 2/(1+w) (k00 - k01 k10 / (1 + k11)), k_ab = sum_n a_n b_n / (g(w) - lam_n),
    g(w) = (2/dt)(1-w)/(1+w); at w = -1 its limit (dt/2) sum_n c_n b_n. K = irfft(Khat).
    """
    n_nodes = length // 2 + 1
    k = np.arange(n_nodes - 1 if length % 2 == 0 else n_nodes)
    z_np = np.exp(-2j * np.pi * k / length)
    cdtype = lam.dtype
    z = jnp.asarray(z_np, dtype=cdtype)
    ratio = jnp.asarray((1 - z_np) / (1 + z_np), dtype=cdtype)  # = -i tan(pi k / length)
    g = (2.0 / dt)[:, None].astype(cdtype) * ratio[None, :]  # (H, K)
    r = 1.0 / (g[:, :, None] - lam[:, None, :])  # (H, K, N)
    pc = p.conj()
    # the four Cauchy sums as one batched product over n (float32 accuracy on GPUs too)
    weights = jnp.stack([c * b, c * p, pc * b, pc * p], axis=-1)  # (H, N, 4)
    k00, k01, k10, k11 = jnp.einsum("hkn,hnf->fhk", r, weights, precision=jax.lax.Precision.HIGHEST)
    khat = (2.0 / (1.0 + z))[None, :] * (k00 - k01 * k10 / (1.0 + k11))
    if length % 2 == 0:
        nyquist = 0.5 * dt.astype(cdtype) * jnp.sum(c * b, axis=-1)
        khat = jnp.concatenate([khat, nyquist[:, None]], axis=1)
    return jnp.fft.irfft(khat, n=length, axis=-1).astype(dt.dtype)


class S4(AbstractLinearMixer):
    """S4 mixer (DPLR, HiPPO-LegS init): (seq, d_model) -> (seq, d_model), d_state = N.

    Options: `l_max` (kernel length that the trained C refers to, default 1024; longer
    inputs are handled by re-deriving the C of the longer kernel), `dt_min`, `dt_max`.
    Lambda, P, B, Ct are per channel (N/2 kept modes each); Re Lambda = -exp(Lambda_re_log).
    The state for `step` is (x, Cbar): the full N-dim complex state per channel and the
    output vector Cbar^T = Ct^T (I - Abar^l_max)^-1, computed once by `init_state` (as S4's
    own step setup does).
    """

    Lambda_re_log: Float[Array, "d_model modes"]
    Lambda_im: Float[Array, "d_model modes"]
    P_re: Float[Array, "d_model modes"]
    P_im: Float[Array, "d_model modes"]
    B_re: Float[Array, "d_model modes"]
    B_im: Float[Array, "d_model modes"]
    C_re: Float[Array, "d_model modes"]
    C_im: Float[Array, "d_model modes"]
    D: Float[Array, " d_model"]
    log_dt: Float[Array, " d_model"]
    d_model: int = eqx.field(static=True)
    d_state: int = eqx.field(static=True)
    l_max: int = eqx.field(static=True)

    recurrent_params: ClassVar[tuple[str, ...]] = (
        "Lambda_re_log",
        "Lambda_im",
        "P_re",
        "P_im",
        "B_re",
        "B_im",
        "log_dt",
    )

    def __init__(
        self,
        d_model: int,
        d_state: int,
        *,
        l_max: int = 1024,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        key: PRNGKeyArray,
    ):
        check_sizes(d_model, d_state)
        if d_state % 2:
            raise ValueError(
                f"S4: d_state (N) must be even (N/2 conjugate-pair modes), got {d_state}"
            )
        if not isinstance(l_max, int) or isinstance(l_max, bool) or l_max < 1:
            raise ValueError(f"S4: l_max must be a positive int, got {l_max!r}")
        lam, pt, bt, _ = hippo.legs_dplr(d_state, clip_b=hippo.B_CLIP)
        modes = d_state // 2
        tile = lambda v: jnp.broadcast_to(jnp.asarray(v), (d_model, modes))
        k_dt, k_cre, k_cim, k_d = jax.random.split(key, 4)
        self.Lambda_re_log = tile(np.log(-np.real(lam)))
        self.Lambda_im = tile(np.imag(lam))
        self.P_re, self.P_im = tile(np.real(pt)), tile(np.imag(pt))
        self.B_re, self.B_im = tile(np.real(bt)), tile(np.imag(bt))
        s = math.sqrt(0.5)
        self.C_re = jax.random.normal(k_cre, (d_model, modes)) * s
        self.C_im = jax.random.normal(k_cim, (d_model, modes)) * s
        self.D = jax.random.normal(k_d, (d_model,))
        self.log_dt = hippo.log_dt_init(k_dt, (d_model,), dt_min, dt_max)
        self.d_model = d_model
        self.d_state = d_state
        self.l_max = l_max

    def _system(self):
        """(Lambda, P, B, Ct) as full (H, N) complex vectors, and dt (H,)."""
        lam = _full(-jnp.exp(self.Lambda_re_log), self.Lambda_im)
        p = _full(self.P_re, self.P_im)
        b = _full(self.B_re, self.B_im)
        c = _full(self.C_re, self.C_im)
        return lam, p, b, c, jnp.exp(self.log_dt)

    def dense(self) -> tuple[Complex[Array, "d_model n n"], Complex[Array, "d_model n"]]:
        """(Abar, Bbar) per channel as dense N x N matrices (bilinear rule), for checks."""
        lam, p, b, _, dt = self._system()
        a = jax.vmap(jnp.diag)(lam) - p[:, :, None] * p.conj()[:, None, :]
        return jax.vmap(hippo.bilinear_dense)(a, b, dt)

    def output_vector(self) -> Complex[Array, "d_model n"]:
        """C with C^T = Ct^T (I - Abar^l_max)^-1: the output vector of the recurrence."""
        _, _, _, ct, _ = self._system()
        abar, _ = self.dense()

        def one(abar_h, ct_h):
            m = jnp.eye(abar_h.shape[0], dtype=abar_h.dtype) - jnp.linalg.matrix_power(
                abar_h, self.l_max
            )
            return jnp.linalg.solve(m.T, ct_h)

        return jax.vmap(one)(abar, ct)

    def kernel(self, length: int) -> Float[Array, "d_model klen"]:
        """K_{h,l} = C^T Abar^l Bbar for l < length, by the Cauchy/Woodbury generating function.

        For length <= l_max the kernel of length l_max is computed and cut; a longer one
        uses Ct' = (I - Abar^length)^T C, which keeps the same C (and so the same model).
        """
        lam, p, b, ct, dt = self._system()
        if length <= self.l_max:
            return cauchy_kernel(lam, p, b, ct, dt, self.l_max)[:, :length]
        abar, _ = self.dense()
        c = self.output_vector()

        def longer(abar_h, c_h):
            m = jnp.eye(abar_h.shape[0], dtype=abar_h.dtype) - jnp.linalg.matrix_power(
                abar_h, length
            )
            return m.T @ c_h

        return cauchy_kernel(lam, p, b, jax.vmap(longer)(abar, c), dt, length)

    def convolution_kernel(self, length: int) -> Float[Array, "length d_model d_model"]:
        """`kernel` as (length, H, H) matrices, diagonal across channels."""
        return diagonal_kernel(self.kernel(length))

    def linear_system(self) -> LinearSystem:
        """Block-dense per channel: A = Abar (H*N, H*N), Bbar, C = the recurrence's Cbar, D."""
        abar, bbar = self.dense()  # (H, N, N), (H, N)
        cbar = self.output_vector()  # (H, N): y = Re(sum_n Cbar_n x_n)
        h, n, _ = abar.shape
        a = jnp.zeros((h * n, h * n), abar.dtype)
        for i in range(h):
            a = a.at[i * n : (i + 1) * n, i * n : (i + 1) * n].set(abar[i])
        b, c = block_diagonal_inputs(bbar, cbar)
        return LinearSystem(a, b, c, self.D)

    def eigenvalues(self) -> Complex[Array, " modes"]:
        """eig(Abar) per channel, flattened (H * N)."""
        return dense_eigenvalues(self.dense()[0]).reshape(-1)

    def __call__(
        self,
        x: Real[Array, "seq d_model"],
        *,
        length: Int[Array, ""] | int | None = None,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "seq d_model"]:
        """Causal FFT convolution with the Cauchy kernel, plus the D skip (`length` not needed)."""
        check_sequence(x, self.d_model, "S4")
        k = self.kernel(x.shape[0])
        return fft_conv(x, k.T) + self.D * x

    def init_state(
        self,
    ) -> tuple[Complex[Array, "d_model n"], Complex[Array, "d_model n"]]:
        """(x_{-1} = 0, Cbar): the zero state and the recurrence's output vector."""
        c = self.output_vector()
        return jnp.zeros_like(c), c

    def step(
        self,
        state: tuple[Complex[Array, "d_model n"], Complex[Array, "d_model n"]],
        x_t: Real[Array, " d_model"],
    ) -> tuple[
        tuple[Complex[Array, "d_model n"], Complex[Array, "d_model n"]], Float[Array, " d_model"]
    ]:
        """x_k = Abar x_{k-1} + Bbar u_k in O(N), y_k = Re(Cbar x_k) + D u_k.

        Abar = A1 A0, Bbar = 2 A1 B with A0 = (2/dt) I + A and (Woodbury)
        A1 = (2/dt I - A)^-1 = E - E P (1 + P^* E P)^-1 P^* E, E = diag(1 / (2/dt - Lambda)).
        """
        check_step(x_t, self.d_model, "S4")
        x, cbar = state
        lam, p, b, _, dt = self._system()
        two_dt = (2.0 / dt)[:, None]
        pc = p.conj()
        a0x = two_dt * x + lam * x - p * jnp.sum(pc * x, axis=-1, keepdims=True)
        v = a0x + 2.0 * b * x_t[:, None]
        e = 1.0 / (two_dt - lam)
        ev = e * v
        num = jnp.sum(pc * ev, axis=-1, keepdims=True)
        den = 1.0 + jnp.sum(pc * e * p, axis=-1, keepdims=True)
        x = ev - e * p * (num / den)
        y = jnp.sum(cbar * x, axis=-1).real + self.D * x_t
        return (x, cbar), y

    def state_vector(
        self, state: tuple[Complex[Array, "d_model n"], Complex[Array, "d_model n"]]
    ) -> Complex[Array, "d_model n"]:
        """The state x (not the fixed output vector Cbar that the state also carries)."""
        return state[0]
