# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. Why RNNs forget, and what a linear RNN is
#
# The paper's ladder starts from the vanilla RNN $x_k = \tanh(A x_{k-1} + B u_k)$. Such RNNs
# are fast at inference but hard to train on long sequences: the gradient that reaches an
# input $k$ steps back is a product of $k$ Jacobians, and it vanishes (or explodes) with $k$.
# The paper's first move is to **drop the nonlinearity from the recurrence** (the MLPs
# between layers keep the network nonlinear) and to look at the linear recurrence in the basis
# where it is diagonal. This notebook makes that move in four steps:
#
# 1. the gradient reach of a tanh RNN;
# 2. its linearisation;
# 3. the circular law: where the eigenvalues of a Glorot matrix sit;
# 4. dense = diagonal, and stability is $\lvert\lambda\rvert < 1$.

# %%
import math

import course
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from course import SMALL, Live

import lrux
from lrux import signal

# %% [markdown]
# ## 2.1 The gradient reach of a tanh RNN
#
# With $z_k = A x_{k-1} + B u_k$, $x_k = \tanh(z_k)$ and the readout $y_k = C x_k + D u_k$, the
# chain rule gives the dependence of the last output on the input $k$ steps back:
#
# $$
# \frac{\partial y_L}{\partial u_{L-k}} = C\, \Big[\prod_{t=L-k+1}^{L} \operatorname{diag}\big(\tanh'(z_t)\big) A\Big]
# \operatorname{diag}\big(\tanh'(z_{L-k})\big) B \quad (+\,D \text{ at } k = 0),
# \qquad \tanh'(z) = 1 - \tanh^2(z) \le 1 .
# $$
#
# We call $g_k = \lVert \partial y_L / \partial u_{L-k} \rVert_F$ the **gradient reach**: how
# much a learning signal at the end of the sequence can change what the layer does with an
# input $k$ steps earlier. Each factor shrinks the product unless $A$ amplifies, and every
# saturated unit ($\lvert x \rvert \to 1$, $\tanh' \to 0$) shrinks it further. First the RNN
# and its reach from scratch, checked against lrux:

# %%
def tanh_rnn(A, B, C, D, u):
    """x_k = tanh(A x_{k-1} + B u_k), y_k = C x_k + D u_k; u (L, H) -> y (L, H)."""
    def step(x, u_k):
        x = jnp.tanh(A @ x + B @ u_k)
        return x, C @ x + D * u_k

    return jax.lax.scan(step, jnp.zeros(A.shape[0]), u)[1]


def reach(f, u):
    """g_k = || d f(u)[-1] / d u[-1-k] ||_F for k = 0 .. L-1."""
    jac = jax.jacrev(lambda z: f(z)[-1])(u)  # (H_out, L, H_in)
    return jnp.sqrt(jnp.sum(jac**2, axis=(0, 2)))[::-1]


H, N = 4, 64
L = 256 if SMALL else 512  # fixed: the sliders below never change a shape (> 200: the answer)
rnn = lrux.make_mixer("rnn-tanh", H, N, key=course.key(0))
u = jax.random.normal(course.key(1), (1, L, H))  # what signal.gradient_reach draws
assert jnp.allclose(tanh_rnn(rnn.A, rnn.B, rnn.C, rnn.D, u[0]), rnn(u[0]), atol=1e-5)
g_ours = reach(lambda z: tanh_rnn(rnn.A, rnn.B, rnn.C, rnn.D, z), u[0])
g_lrux = signal.gradient_reach(rnn, L, key=course.key(1), num_samples=1)
assert jnp.allclose(g_ours, g_lrux, rtol=1e-4, atol=1e-7)
print(f"reach at k = 0, 1, 10, 50: {np.asarray(g_ours[jnp.array([0, 1, 10, 50])])}")

# %% [markdown]
# ## 2.2 Linearise
#
# Near the zero state $\tanh(z) \approx z$ and every $\tanh'$ is 1: the RNN becomes the
# **linear** RNN $x_k = A x_{k-1} + B u_k$ with the same matrices, whose reach does not depend
# on the input at all:
#
# $$
# \frac{\partial y_L}{\partial u_{L-k}} = C A^k B = K_k ,
# $$
#
# the convolution kernel of notebook 1. lrux's `linear-dense` rung is this layer (and built
# from the same key it has the same $A, B, C, D$ as `rnn-tanh`). The reach of the linear RNN
# decays like $\rho(A)^k$, where $\rho(A) = \max_j \lvert\lambda_j(A)\rvert$ is the spectral radius.

# %%
def linear_reach(A, B, C, length):
    """||C A^k B||_F for k = 0 .. length-1 (k = 0 without D)."""
    def body(m, _):
        return A @ m, jnp.sqrt(jnp.sum((C @ m) ** 2))

    return jax.lax.scan(body, B, None, length=length)[1]


lin = lrux.make_mixer("linear-dense", H, N, key=course.key(0))
assert jnp.array_equal(lin.A, rnn.A) and jnp.array_equal(lin.B, rnn.B)
stable = eqx.tree_at(lambda m: m.A, lin, 0.9 * lin.A / np.abs(np.linalg.eigvals(lin.A)).max())
K = signal.kernel(stable, L)  # lrux's closed form Re(C A^k B)
assert jnp.allclose(linear_reach(stable.A, stable.B, stable.C, L),
                    jnp.sqrt(jnp.sum(K**2, axis=(1, 2))), rtol=1e-4, atol=1e-7)

# %% [markdown]
# ### The two reaches side by side
#
# Below, $A$ is rescaled to a chosen spectral radius $\rho$ (the slider), and the input to a
# chosen scale $\sigma$ (white noise times $\sigma$). The tanh RNN's reach is averaged over 8
# input sequences; its linearisation has the same $A, B, C$.
#
# **Predict, then move the sliders.** (1) At $\rho = 0.99$ and $\sigma = 1$, which layer still
# depends on inputs 200 steps back? (2) Now shrink $\sigma$ to 0.01: what happens to the tanh
# curve, and why? (3) Push $\rho$ above 1: what does each curve do?
#
# <details><summary>Answer</summary>
#
# (1) Only the linear one: with $\sigma = 1$ the tanh units saturate (the title gives the mean
# $\tanh'$, below 0.6) and the reach of the tanh RNN falls by more than six orders of
# magnitude within 200 steps (by two within the first 50), while the linear reach at
# $k = 200$ is still more than 1% of its start. (2) With small inputs the state stays near
# zero, $\tanh' \approx 1$, and over the first 200 steps the tanh curve stays within a factor
# of 3 of the linear one (at $\sigma = 1$ it fell a million times below it): the
# linearisation is exact in the limit $\sigma \to 0$.
# (3) The linear reach grows like $\rho^k$ (an unstable layer: its state explodes too); the
# tanh RNN's stays within 10 times its largest value in the first 10 steps, because
# saturation caps it, so $\tanh$ "fixes" instability only by forgetting. (The cell below
# checks these numbers on this draw.)
# </details>

# %%
rho_glorot = float(np.abs(np.linalg.eigvals(np.asarray(rnn.A))).max())
u_reach = jax.random.normal(course.key(2), (8, L, H))


@jax.jit
def reach_curves(rho, sigma):
    A = rnn.A * (rho / rho_glorot)
    f = lambda z: tanh_rnn(A, rnn.B, rnn.C, rnn.D, z)  # noqa: E731
    g_tanh = jnp.mean(jax.vmap(lambda z: reach(f, sigma * z))(u_reach), axis=0)
    slope = jax.vmap(lambda z: jnp.mean(1 - jnp.tanh(_preacts(A, sigma * z)) ** 2))(u_reach)
    return g_tanh, linear_reach(A, rnn.B, rnn.C, L), jnp.mean(slope)


def _preacts(A, u):
    """z_k = A x_{k-1} + B u_k of the tanh RNN, (L, N)."""
    def step(x, u_k):
        z = A @ x + rnn.B @ u_k
        return jnp.tanh(z), z

    return jax.lax.scan(step, jnp.zeros(N), u)[1]


lam_glorot = np.linalg.eigvals(np.asarray(rnn.A))


# %% jupyter={"source_hidden": true}
# the figure: plotting code (click to expand)
def draw_reach(rho, sigma):
    g_tanh, g_lin, slope = (np.asarray(v) for v in reach_curves(rho, sigma))
    g_lin = np.minimum(np.nan_to_num(g_lin, nan=np.inf), 1e30)  # rho > 1 overflows float32
    fig, (a, b) = course.figure(2, widths=[3, 1])
    k = np.arange(L)
    a.semilogy(k, g_lin + 1e-30, lw=1.5, **course.label("linear-dense"))
    a.semilogy(k, g_tanh + 1e-30, lw=1.5, **course.label("rnn-tanh"))
    a.set_ylim(1e-12, min(1e31, max(1e3, 2 * g_lin.max(), 2 * g_tanh.max())))
    a.set_xlabel("k: steps back from the last output")
    a.set_ylabel(r"gradient reach $\|\partial y_L / \partial u_{L-k}\|$")
    a.legend(loc="lower left")
    a.set_title(f"rho(A) = {rho:.3f}, input scale {sigma:.3g}: mean tanh' = {slope:.2f}")
    lam = lam_glorot * rho / rho_glorot
    course.unit_circle(b)
    b.scatter(lam.real, lam.imag, s=6, color=course.COLORS["linear-dense"])
    b.set_title(f"eigenvalues of A ({int((np.abs(lam) > 1).sum())} outside)")
    return fig


_ = Live(draw_reach, {
    "rho": course.float_slider(0.99, 0.5, 1.1, 0.005, "spectral radius rho(A)"),
    "sigma": course.float_slider(1.0, -2, 1, 0.05, "input scale sigma", log=True),
})

# %% jupyter={"source_hidden": true}
# the answer's numbers, checked on this draw (click to expand)
g_tanh, g_lin, slope = (np.asarray(v) for v in reach_curves(0.99, 1.0))
drop_50 = next((k for k in range(L) if g_tanh[k] < 1e-2 * g_tanh[0]), L)
g_small, g_lin_small, _ = (np.asarray(v) for v in reach_curves(0.99, 0.01))
gap_small = float(np.max(np.abs(np.log(g_small[:200] / g_lin_small[:200]))))  # log ratio
g_big, g_lin_big, _ = (np.asarray(v) for v in reach_curves(1.05, 1.0))
course.claims(
    "2.1's answer",
    ("at sigma = 1 the mean tanh' is below 0.6", slope < 0.6, f"{slope:.2f}"),
    ("the tanh reach falls by more than six orders of magnitude within 200 steps",
     g_tanh[200] < 1e-6 * g_tanh[0], f"{g_tanh[200] / g_tanh[0]:.1e}"),
    ("... by two within the first 50", drop_50 <= 50, f"at k = {drop_50}"),
    ("the linear reach at k = 200 is still more than 1% of its start",
     g_lin[200] > 1e-2 * g_lin[0], f"{g_lin[200] / g_lin[0]:.2e}"),
    ("at sigma = 0.01 the tanh reach stays within a factor of 3 of the linear one (k < 200)",
     gap_small < math.log(3), f"largest factor {math.exp(gap_small):.2f}"),
    ("at sigma = 1 it falls a million times below it by k = 200",
     g_tanh[200] < 1e-6 * g_lin[200], f"{g_tanh[200] / g_lin[200]:.1e}"),
    ("at rho = 1.05 the linear reach grows", g_lin_big[-1] > 1e3 * g_lin_big[0],
     f"{g_lin_big[-1] / g_lin_big[0]:.1e}"),
    ("... and the tanh reach stays within 10 times its largest value in the first 10 steps",
     g_big.max() <= 10 * g_big[:10].max(), f"{g_big.max() / g_big[:10].max():.2g}x"),
)

# %% [markdown]
# So the linear RNN can carry information over hundreds of steps **if** its spectral radius
# sits just below 1, and it needs no nonlinearity to do so. Two questions follow: where are the
# eigenvalues of a randomly initialised $A$, and how do we keep them where we want them during
# training?
#
# ## 2.3 The circular law
#
# The ladder's dense RNNs initialise $A$ with Glorot: iid entries $A_{ij} \sim \mathcal{N}(0,
# 1/N)$. The **circular law** says that as $N$ grows, the eigenvalues of such a matrix fill the
# unit disk uniformly, so the fraction with $\lvert\lambda\rvert \le r$ tends to $r^2$:
#
# $$
# \frac{\#\{j : \lvert\lambda_j\rvert \le r\}}{N} \;\longrightarrow\; r^2 \quad (0 \le r \le 1).
# $$
#
# Equivalently, $\lvert\lambda\rvert^2$ is uniform on $[0, 1]$ (and the phase uniform on
# $[0, 2\pi)$): that is what "uniform on the disk" means, and it is the law we test below. A
# Glorot linear RNN is therefore **marginally stable** at initialisation: a few modes sit
# right at the circle (long memory) and, for finite $N$, some may sit just outside it
# (explosion). Its diagonal equivalent (section 2.4) is $\lambda$ uniform on the disk, which
# is what lrux's `disk_init` draws for the diagonal rungs.
#
# **Testing the law, not the draw.** For each $N$ we draw several fresh Glorot matrices and
# measure how far their eigenvalues are from the law with the Kolmogorov-Smirnov distance
# $D_N = \sup_x \lvert F_N(x) - x\rvert$ between the empirical CDF $F_N$ of
# $\lvert\lambda\rvert^2$ and the uniform CDF on $[0, 1]$ (moduli above 1 count at 1). The law
# predicts $D_N \to 0$ as $N$ grows. A wrong law is far away: if $\lvert\lambda\rvert$ (not
# its square) were uniform, $\lvert\lambda\rvert^2$ would have the CDF $\sqrt{x}$, at
# distance $\max_x(\sqrt x - x) = 1/4$ from the uniform.

# %%
def glorot_eigenvalues(key, n):
    A = jax.random.normal(key, (n, n)) / math.sqrt(n)  # iid N(0, 1/n)
    return np.linalg.eigvals(np.asarray(A, np.float64))


ours = glorot_eigenvalues(course.key(7), 64)
theirs = np.asarray(signal.glorot_eigenvalues(course.key(7), 64))
assert np.allclose(np.sort_complex(ours), np.sort_complex(theirs), atol=1e-4)  # lrux's draw
print(f"the Glorot draw of section 2.1 (N = {N}): rho(A) = {rho_glorot:.3f}")

SIZES = [16, 64, 256] if SMALL else [16, 64, 256, 512]
DRAWS = 4  # fresh matrices per size
EIGS = {n: [glorot_eigenvalues(course.key(1000 * n + d), n) for d in range(DRAWS)]
        for n in SIZES}
KS = {n: [course.ks_uniform(np.abs(lam) ** 2) for lam in EIGS[n]] for n in SIZES}
for n in SIZES:
    print(f"N = {n:4d}: KS distance of |lambda|^2 from U[0, 1] per draw: "
          + ", ".join(f"{d:.3f}" for d in KS[n]) + f"   (median {np.median(KS[n]):.3f})")

# %% [markdown]
# **Predict, then move the slider.** As $N$ goes from 16 to 512: does the empirical curve on
# the right approach $r^2$? Do the eigenvalues outside the circle disappear?

# %% jupyter={"source_hidden": true}
# the answer, computed from these draws (click to expand)
smallest, largest = SIZES[0], SIZES[-1]
ks_small, ks_large = np.median(KS[smallest]), np.median(KS[largest])
# the wrong law: |lambda| uniform on [0, 1], tested on the same eigenvalues (all draws)
wrong_law = course.ks_uniform(np.concatenate([np.abs(lam) for lam in EIGS[largest]]))
outside = {n: [int((np.abs(lam) > 1).sum()) for lam in EIGS[n]] for n in SIZES}
top = {n: max(np.abs(lam).max() for lam in EIGS[n]) for n in SIZES}
course.answer(
    f"The curve does: the cloud fills the disk ever more evenly. The KS distance of "
    f"$\\lvert\\lambda\\rvert^2$ from the uniform law falls from {ks_small:.3f} at $N = {smallest}$ "
    f"to {ks_large:.3f} at $N = {largest}$ (medians over {DRAWS} draws), while the wrong law "
    f"($\\lvert\\lambda\\rvert$ uniform) stays {wrong_law:.2f} away at $N = {largest}$. The "
    f"eigenvalues outside do not disappear: over the {DRAWS} draws per size, "
    + ", ".join(f"{min(outside[n])}-{max(outside[n])} of {n}" for n in SIZES)
    + " sit outside, and the largest $\\lvert\\lambda\\rvert$ is "
    + ", ".join(f"{top[n]:.3f}" for n in SIZES)
    + f" for $N$ = {', '.join(map(str, SIZES))}: up to {max(top.values()) - 1:.0%} above 1, "
    "varying from draw to draw and not shrinking to 0 in proportion. A Glorot linear RNN is "
    "marginally stable: some modes remember for very long, some slowly explode.")
course.claims(
    "2.3",
    ("the KS distance shrinks from the smallest to the largest N", ks_large < ks_small,
     f"{ks_small:.3f} -> {ks_large:.3f}"),
    ("at the largest N the eigenvalues are within 0.05 of the law", ks_large < 0.05,
     f"{ks_large:.3f}"),
    ("the wrong law is at least 0.2 away at the largest N", wrong_law > 0.2, f"{wrong_law:.3f}"),
    ("some draws have modes outside the circle at every N",
     all(max(outside[n]) > 0 for n in SIZES), outside),
)

# %%
RADII = np.linspace(0, 1.25, 251)


# %% jupyter={"source_hidden": true}
# the figure: plotting code (click to expand)
def draw_circular_law(n):
    lam = EIGS[n][0]
    frac = (np.abs(lam)[None, :] <= RADII[:, None]).mean(axis=1)
    fig, (a, b) = course.figure(2, widths=[1, 1.6], width=10, height=4)
    course.unit_circle(a)
    a.scatter(lam.real, lam.imag, s=8 if n <= 64 else 3, color=course.COLORS["linear-dense"])
    a.set_title(f"Glorot N = {n}: max |λ| = {np.abs(lam).max():.3f}, "
                f"{int((np.abs(lam) > 1).sum())} outside")
    b.plot(RADII, frac, color=course.COLORS["linear-dense"], label=f"eigenvalues, N = {n}")
    b.plot(RADII, np.minimum(RADII, 1) ** 2, "k--", label="circular law: r²")
    b.plot(RADII, np.minimum(RADII, 1), ":", color="0.5", label="a wrong law: r")
    b.set_xlabel("radius r")
    b.set_ylabel("fraction with |λ| ≤ r")
    b.set_title(f"KS distance from r²: {KS[n][0]:.3f} (median of {DRAWS} draws: "
                f"{np.median(KS[n]):.3f})")
    b.legend(loc="lower right")
    return fig


_ = Live(draw_circular_law, {"n": course.choice_slider(SIZES, 64, "matrix size N")})

# %% [markdown]
# ## 2.4 Dense = diagonal, and stability is $\lvert\lambda\rvert < 1$
#
# Diagonalise $A = P \Lambda P^{-1}$ (over $\mathbb{C}$: a real matrix has complex conjugate
# eigenvalue pairs). In the coordinates $x' = P^{-1} x$ the linear RNN reads
#
# $$
# x'_k = \Lambda x'_{k-1} + B' u_k, \qquad y_k = \operatorname{Re}(C' x'_k) + D u_k, \qquad
# B' = P^{-1} B, \; C' = C P,
# $$
#
# (the output $C x = C' x'$ is real, so taking the real part changes nothing). The dense
# linear RNN **is** a complex diagonal RNN, exactly; learning $(\Lambda, B', C')$ directly
# covers the same functions, costs $O(N)$ per step instead of $O(N^2)$, and makes stability
# readable: mode $j$ evolves as $\lambda_j^k$, so the layer is stable exactly when every
# $\lvert\lambda_j\rvert < 1$. Here is the change of basis, from scratch:

# %%
A, B, C = (np.asarray(m, np.float64) for m in (lin.A, lin.B, lin.C))
lam, P = np.linalg.eig(A)
B_diag = np.linalg.solve(P, B)  # B' = P^-1 B   (N, H), complex
C_diag = C @ P  # C' = C P      (H, N), complex


def diagonal_rnn(lam, B, C, D, u):
    """x'_k = lam x'_{k-1} + B u_k, y_k = Re(C x'_k) + D u_k."""
    def step(x, u_k):
        x = lam * x + B @ u_k
        return x, (C @ x).real + D * u_k

    return jax.lax.scan(step, jnp.zeros(lam.shape, jnp.complex64), u)[1]


u_short = jax.random.normal(course.key(3), (48, H))
y_dense = lin(u_short)
y_diag = diagonal_rnn(jnp.asarray(lam, jnp.complex64), jnp.asarray(B_diag, jnp.complex64),
                      jnp.asarray(C_diag, jnp.complex64), lin.D, u_short)
y_lrux = signal.diagonalize(lin)(u_short)  # lrux's DiagonalRNN with lambda, B', C'
scale = float(jnp.abs(y_dense).max())
print(f"output scale {scale:.3g}; |dense - ours| = {float(jnp.abs(y_dense - y_diag).max()):.2e},"
      f" |dense - signal.diagonalize| = {float(jnp.abs(y_dense - y_lrux).max()):.2e}")
assert jnp.abs(y_dense - y_diag).max() < 1e-4 * scale
assert jnp.abs(y_dense - y_lrux).max() < 1e-4 * scale

# %% [markdown]
# In the new basis each coordinate $x'_{k,j}$ is an independent scalar recurrence. With an
# impulse $u_1$ and nothing after it, $\lvert x'_{k,j}\rvert = \lvert\lambda_j\rvert^{k-1}
# \lvert (B' u_1)_j\rvert$: a straight line on a log scale, with slope $\log\lvert\lambda_j\rvert$.
# The figure shows the modes inside the circle in the dense linear RNN's colour (orange) and
# those outside in black, on the eigenvalue plot and as lines.
#
# **Predict, then move the slider.** This draw of $A$ (the one from section 2.1, $N = 64$) has
# the spectral radius printed in section 2.3. Which modes explode? Scale $A$ down until the
# last mode is inside the disk: what scale does that take, and what happens to the dense RNN's
# output?

# %%
STEPS = 128 if SMALL else 1024
u_impulse = np.zeros((STEPS, H))
u_impulse[0] = 1.0  # one impulse at the first step, on every channel


@jax.jit
def modes_and_output(scale):
    k = jnp.arange(STEPS)[:, None]
    x_mod = jnp.abs(scale * lam[None, :]) ** k * jnp.abs(B_diag @ u_impulse[0])[None, :]
    y = jax.lax.scan(lambda x, u_k: ((scale * A) @ x + B @ u_k,) * 2,
                     jnp.zeros(N), jnp.asarray(u_impulse))[1] @ C.T
    big = jnp.max(jnp.abs(y), axis=1, keepdims=True)  # scale first: y**2 underflows at 1e-19
    return x_mod, big[:, 0] * jnp.sqrt(jnp.sum((y / jnp.where(big > 0, big, 1)) ** 2, axis=1))


INSIDE, OUTSIDE = course.COLORS["linear-dense"], "k"


# %% jupyter={"source_hidden": true}
# the figure: plotting code (click to expand)
def draw_modes(scale):
    x_mod, y_norm = (np.asarray(v) for v in modes_and_output(scale))
    outside = np.abs(scale * lam) > 1
    fig, (a, b) = course.figure(2, widths=[1, 2.6], width=11, height=3.8)
    course.unit_circle(a)
    a.scatter((scale * lam).real, (scale * lam).imag, s=8,
              c=np.where(outside, OUTSIDE, INSIDE))
    a.set_title(f"scale {scale:.3f}: {int(outside.sum())} of {N} outside")
    k = np.arange(1, STEPS + 1)
    for j in np.argsort(np.abs(lam)):
        b.semilogy(k, x_mod[:, j] + 1e-300, lw=0.8, color=OUTSIDE if outside[j] else INSIDE,
                   alpha=0.9 if outside[j] else 0.35)
    b.plot([], [], color=INSIDE, lw=0.8, label="a mode inside the circle")
    b.plot([], [], color=OUTSIDE, lw=0.8, label="a mode outside")
    b.semilogy(k, y_norm + 1e-300, color="0.4", lw=2.5, ls="--",
               label="dense RNN output ||y_k||")
    b.set_ylim(1e-8, 1e8)
    b.set_xlabel("step k after the impulse")
    b.set_ylabel("|x'_k| per mode (log)")
    b.legend(loc="lower left", fontsize=8)
    last = f"{y_norm[-1]:.2e}" if np.isfinite(y_norm[-1]) else "overflow (> 3e38)"
    b.set_title(f"rho(scale A) = {scale * rho_glorot:.3f}: ||y|| at the last step = {last}")
    return fig


_ = Live(draw_modes, {"scale": course.float_slider(1.0, 0.8, 1.05, 0.002, "scale of A",
                                                   tries=[0.85, 1 / rho_glorot - 0.005])})

# %% jupyter={"source_hidden": true}
# the answer, computed for this draw (click to expand)
n_out = int((np.abs(lam) > 1).sum())


def size(v):
    return f"{v:.2e}" if np.isfinite(v) else "overflow (beyond float32)"


_, y_in = (np.asarray(v) for v in modes_and_output(0.98 / rho_glorot))
_, y_out = (np.asarray(v) for v in modes_and_output(1.0))
course.answer(
    (f"At scale 1 this draw has {n_out} of {N} modes outside the circle (black): those are the "
     "rising lines, every other mode decays. " if n_out else
     f"At scale 1 every mode of this draw is inside the circle (rho(A) = {rho_glorot:.3f}); "
     "scale $A$ up past $1/\\rho(A)$ to see modes leave. ")
    + f"Scaling $A$ by $c$ scales every $\\lambda_j$ by $c$, so all modes are inside once "
    f"$c < 1/\\rho(A) = {1 / rho_glorot:.3f}$; the title reports the output's size after the "
    f"last step: {size(y_out[-1])} at scale 1, {size(y_in[-1])} at scale $0.98/\\rho(A)$, where it "
    "decays instead of growing. In the dense basis the same fact is hidden in all $N^2$ "
    "entries of $A$; in the diagonal basis it is one number per mode.")
course.claims(
    "2.4's answer",
    ("the output decays once every mode is inside", y_in[-1] < y_in[: STEPS // 8].max(),
     f"{y_in[-1]:.2e} at the end against {y_in[: STEPS // 8].max():.2e} early"),
    ("a mode outside makes the output grow", n_out == 0 or not np.isfinite(y_out[-1])
     or y_out[-1] > y_out[: STEPS // 8].max(), f"{y_out[-1]:.2e}"),
    ("the output's norm does not underflow to 0 inside the disk", y_in[-1] > 0, y_in[-1]),
)

# %% [markdown]
# ### Exercise 2: the change of basis
#
# Write `diagonalize_yours(A, B, C)` that returns `(lam, B_new, C_new)` (complex numpy or jax
# arrays of shapes (N,), (N, H), (H, N)) such that the diagonal RNN
# $x'_k = \lambda \odot x'_{k-1} + B' u_k$, $y_k = \operatorname{Re}(C' x'_k)$ gives exactly
# the dense RNN's outputs. (Hint: `np.linalg.eig`, and never form $P^{-1}$ explicitly.)

# %%
def diagonalize_yours(A, B, C):
    raise NotImplementedError  # your code here


course.check_change_of_basis(diagonalize_yours)

# %% tags=["solution"] jupyter={"source_hidden": true}
diagonalize_solution = course.solution("diagonalize")
if diagonalize_solution:
    course.check_change_of_basis(diagonalize_solution)

# %% [markdown]
# ## What we have
#
# - A tanh RNN forgets: saturation shrinks every Jacobian, and its reach collapses over tens of
#   steps (section 2.1). Its linearisation keeps a reach of $\rho(A)^k$.
# - A linear RNN is a diagonal complex RNN in another basis (section 2.4): its memory is set
#   by the moduli $\lvert\lambda_j\rvert$, one number per mode, and it is stable exactly when
#   all of them are below 1.
# - A Glorot init puts the $\lambda_j$ uniformly on the disk (section 2.3): a few close to the
#   circle, most far inside, some just outside.
#
# That leaves two design choices, the subject of the next notebook: how to **store** $\lambda$
# so that training keeps $\lvert\lambda\rvert < 1$ and moves it well, and where to **put** it
# at initialisation so that the layer has long memory without blowing up its state.
#
# **Next:** [3. Parameterisation and initialisation](03_parameterisation_and_init.ipynb).
