"""`DiagonalRNN`: the diagonal complex rungs of the ablation ladder (paper section 4).

x_k = diag(lambda) x_{k-1} + g * (B u_k),  y_k = Re(C x_k) + D * u_k,  x_k in C^N, u_k in R^H.

One configurable layer covers every diagonal rung; each option is one step of the ladder:

- ``parameterization``: how lambda is stored (always as real arrays)
    - ``"reim"``: lambda = lam_re + i lam_im (`diag-reim`);
    - ``"exp"``: lambda = exp(nu + i theta) (`diag-exp`);
    - ``"stable-exp"``: lambda = exp(-exp(nu_log) + i exp(theta_log)), |lambda| < 1 always
      (`diag-stable-exp`, `diag-ring`, and the LRU).
- ``init``: ``"disk"`` draws lambda uniform on the unit disk, the diagonal equivalent of a
  Glorot matrix by the circular law (paper sec. 6); ``"ring"`` draws it uniform on
  r_min <= |lambda| <= r_max with phase in [0, max_phase] (Lemma 2).
- ``gamma``: with True, g = exp(gamma_log), a trainable normalisation initialised to
  sqrt(1 - |lambda|^2) (paper Prop. 3); with False, g = 1.

With ``parameterization="stable-exp", init="ring", gamma=True`` the layer is the LRU: given
the same arrays it returns exactly `lrux.LRU`'s output, because both are an
`AbstractDiagonalRNN` and run the same kernel `lrux.layers.lru.diagonal_recurrence` (and
`diagonal_step` in step mode).
"""

import math
from typing import ClassVar, Literal, get_args

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from lrux.init import check_ring, ring_init
from lrux.layers.base import check_choice, check_scan_mode, check_sizes
from lrux.layers.lru import (
    AbstractDiagonalRNN,
    gamma_log_init,
    init_projections,
    stable_exp_lambda,
)
from lrux.scan import ScanMode

Parameterization = Literal["reim", "exp", "stable-exp"]
Init = Literal["disk", "ring"]
PARAMETERIZATIONS: tuple[str, ...] = get_args(Parameterization)
INITS: tuple[str, ...] = get_args(Init)


class DiagonalRNN(AbstractDiagonalRNN):
    """Diagonal complex linear RNN, the configurable rungs between the dense RNN and the LRU.

    Parameters (real arrays; only those of the chosen parameterization are set, the others
    are None): ``lam_re, lam_im`` (reim), ``nu, theta`` (exp; ``nu = -nu_init`` < 0 at init),
    ``nu_log, theta_log`` (stable-exp), all (N,); ``gamma_log`` (N,) when ``gamma``;
    ``B_re, B_im`` (N, H) ~ N(0, 1/(2H)); ``C_re, C_im`` (H, N) ~ N(0, 1/N); ``D`` (H,) ~
    N(0, 1): the LRU's init (paper sec. 1).
    """

    lam_re: Float[Array, " d_state"] | None
    lam_im: Float[Array, " d_state"] | None
    nu: Float[Array, " d_state"] | None
    theta: Float[Array, " d_state"] | None
    nu_log: Float[Array, " d_state"] | None
    theta_log: Float[Array, " d_state"] | None
    gamma_log: Float[Array, " d_state"] | None
    B_re: Float[Array, "d_state d_model"]
    B_im: Float[Array, "d_state d_model"]
    C_re: Float[Array, "d_model d_state"]
    C_im: Float[Array, "d_model d_state"]
    D: Float[Array, " d_model"]
    d_model: int = eqx.field(static=True)
    d_state: int = eqx.field(static=True)
    parameterization: str = eqx.field(static=True)
    init: str = eqx.field(static=True)
    gamma: bool = eqx.field(static=True)
    r_min: float = eqx.field(static=True)
    r_max: float = eqx.field(static=True)
    max_phase: float = eqx.field(static=True)
    scan_mode: ScanMode = eqx.field(static=True)

    # Fields of the unused parameterizations are None and hold no leaves.
    recurrent_params: ClassVar[tuple[str, ...]] = (
        "lam_re",
        "lam_im",
        "nu",
        "theta",
        "nu_log",
        "theta_log",
        "gamma_log",
        "B_re",
        "B_im",
    )

    def __init__(
        self,
        d_model: int,
        d_state: int,
        *,
        parameterization: Parameterization = "stable-exp",
        init: Init = "ring",
        gamma: bool = True,
        r_min: float = 0.0,
        r_max: float = 1.0,
        max_phase: float = 2 * math.pi,
        scan_mode: ScanMode = "auto",
        key: PRNGKeyArray,
    ):
        check_sizes(d_model, d_state)
        check_choice("parameterization", parameterization, PARAMETERIZATIONS)
        check_choice("init", init, INITS)
        if not isinstance(gamma, bool):
            raise ValueError(f"gamma must be a bool, got gamma={gamma!r}")
        check_scan_mode(scan_mode)
        if init == "disk" and (r_min, r_max, max_phase) != (0.0, 1.0, 2 * math.pi):
            raise ValueError(
                "r_min, r_max and max_phase apply only to init='ring'; init='disk' is the "
                f"uniform unit disk (r_min=0, r_max=1, max_phase=2*pi), got r_min={r_min}, "
                f"r_max={r_max}, max_phase={max_phase}"
            )
        check_ring(r_min, r_max, max_phase)

        # Same key use as the LRU: (lambda, B_re, B_im, C_re, C_im, D).
        k_lam, *k_proj = jax.random.split(key, 6)
        nu_init, theta_init = ring_init(k_lam, d_state, r_min, r_max, max_phase)
        self.lam_re = self.lam_im = self.nu = self.theta = self.nu_log = self.theta_log = None
        if parameterization == "reim":
            mod = jnp.exp(-nu_init)
            self.lam_re = mod * jnp.cos(theta_init)
            self.lam_im = mod * jnp.sin(theta_init)
        elif parameterization == "exp":
            self.nu = -nu_init
            self.theta = theta_init
        else:
            self.nu_log = jnp.log(nu_init)
            self.theta_log = jnp.log(theta_init)
        # |lambda|^2 = exp(-2 nu): gamma = sqrt(1 - |lambda|^2) (paper sec. 1, Prop. 3).
        self.gamma_log = gamma_log_init(nu_init) if gamma else None
        self.B_re, self.B_im, self.C_re, self.C_im, self.D = init_projections(
            k_proj, d_model, d_state
        )
        self.d_model = d_model
        self.d_state = d_state
        self.parameterization = parameterization
        self.init = init
        self.gamma = gamma
        self.r_min = float(r_min)
        self.r_max = float(r_max)
        self.max_phase = float(max_phase)
        self.scan_mode = scan_mode

    def lambda_parts(self) -> tuple[Float[Array, " d_state"], Float[Array, " d_state"]]:
        """(Re lambda, Im lambda) (N,) from the stored parameters."""
        if self.parameterization == "reim":
            assert self.lam_re is not None and self.lam_im is not None  # set for "reim"
            return self.lam_re, self.lam_im
        if self.parameterization == "exp":
            assert self.nu is not None and self.theta is not None  # set for "exp"
            mod = jnp.exp(self.nu)
            return mod * jnp.cos(self.theta), mod * jnp.sin(self.theta)
        assert self.nu_log is not None and self.theta_log is not None  # set for "stable-exp"
        return stable_exp_lambda(self.nu_log, self.theta_log)

    def input_gain(self) -> Float[Array, " d_state"] | None:
        """g = exp(gamma_log) (N,) with gamma normalisation, else None (g = 1)."""
        if not self.gamma:
            return None
        assert self.gamma_log is not None  # set when gamma=True
        return jnp.exp(self.gamma_log)
