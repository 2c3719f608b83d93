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
# # 1. The Linear Recurrent Unit in one cell
#
# *A course on deep linear recurrent networks with lrux, after Orvieto, Smith, Gu, Fernando,
# Gulcehre, Pascanu and De, [Resurrecting Recurrent Neural Networks for Long
# Sequences](https://arxiv.org/abs/2303.06349) (ICML 2023).*
#
# The paper starts from a vanilla tanh RNN, which cannot learn long-range dependencies, and
# changes it one step at a time until it matches deep state-space models (S4, S5) on the Long
# Range Arena. Every step has a reason in signal propagation. The course follows the paper's
# argument in that order:
#
# | notebook | the step |
# |---|---|
# | **1. the LRU** (this one) | the layer in one cell; its convolution kernel; the parallel scan; lrux's layers |
# | 2. why RNNs forget | gradient reach of a tanh RNN; linearise; the circular law; dense = diagonal; stability is $\lvert\lambda\rvert < 1$ |
# | 3. parameterisation and initialisation | the exponential parameterisation and Adam; the ring init; the forward blow-up (Prop. 3) and $\gamma$; phase |
# | 4. kernels | S4D-Lin is a ring in disguise; a linear RNN learns a kernel that a tanh RNN cannot |
# | 5. the ladder | every rung, from the tanh RNN to the LRU, trained on one long-memory task |
#
# Each step has the same parts: what the paper says, the equation, a few lines of plain
# `jax.numpy` written from scratch, an `assert` that they compute what lrux's layer computes,
# a figure, and a question to answer **before** you move the slider. Exercises have a check
# function; the reference solution is one click away (collapsed cells).

# %%
import math

import course
import jax
import jax.numpy as jnp
import numpy as np
from course import SMALL, Live

import lrux
from lrux import signal

# %% [markdown]
# ## 1.1 The layer
#
# The LRU maps an input sequence $u_1, \dots, u_L \in \mathbb{R}^H$ to outputs
# $y_k \in \mathbb{R}^H$ through a complex state $x_k \in \mathbb{C}^N$ that is updated by a
# **linear**, **diagonal** recurrence:
#
# $$
# x_k = \operatorname{diag}(\lambda)\, x_{k-1} + \gamma \odot (B u_k), \qquad
# y_k = \operatorname{Re}(C x_k) + D \odot u_k, \qquad x_0 = 0,
# $$
#
# with $B \in \mathbb{C}^{N \times H}$, $C \in \mathbb{C}^{H \times N}$, $D \in \mathbb{R}^H$.
# The eigenvalues and the input normalisation are stored through logarithms,
#
# $$
# \lambda_j = \exp\!\big(-\exp(\nu^{\log}_j) + i \exp(\theta^{\log}_j)\big), \qquad
# \gamma_j = \exp(\gamma^{\log}_j) \;\text{ initialised to }\; \sqrt{1 - \lvert\lambda_j\rvert^2},
# $$
#
# so $\lvert\lambda_j\rvert = \exp(-\exp(\nu^{\log}_j)) < 1$ for any value of the parameters.
# Notebooks 2 and 3 explain each of these choices. Here is the whole layer, from scratch:

# %%
def lru_from_scratch(p, u):
    """The LRU on one sequence u (L, H) -> y (L, H); p holds the parameter arrays."""
    lam = jnp.exp(-jnp.exp(p.nu_log) + 1j * jnp.exp(p.theta_log))  # (N,)
    B = jnp.exp(p.gamma_log)[:, None] * (p.B_re + 1j * p.B_im)  # (N, H), gamma folded in
    C = p.C_re + 1j * p.C_im  # (H, N)

    def step(x, u_k):
        x = lam * x + B @ u_k
        return x, (C @ x).real + p.D * u_k

    _, y = jax.lax.scan(step, jnp.zeros(lam.shape, jnp.complex64), u)
    return y


# %% [markdown]
# `lrux.LRU` keeps its parameters under the same names (`nu_log`, `theta_log`, `gamma_log`,
# `B_re`, `B_im`, `C_re`, `C_im`, `D`), so the function above runs on the layer itself. The
# library computes the same thing with real matrix products and a fused scan; the two agree to
# float32 rounding:

# %%
H, N, L = 4, 32, 256
lru = lrux.LRU(H, N, r_min=0.9, r_max=0.999, key=course.key(0))
u = jax.random.normal(course.key(1), (L, H))
y_ours, y_lrux = lru_from_scratch(lru, u), lru(u)
print("max |ours - lrux.LRU| =", float(jnp.abs(y_ours - y_lrux).max()),
      "  output scale", float(jnp.abs(y_lrux).max()))
assert jnp.allclose(y_ours, y_lrux, atol=1e-4 * float(jnp.abs(y_lrux).max()))

# %% [markdown]
# ## 1.2 The convolution view
#
# Unrolling the recurrence from $x_0 = 0$ gives $x_k = \sum_{j=0}^{k-1} \operatorname{diag}(\lambda)^j
# \gamma \odot B u_{k-j}$: the layer is a **convolution** of the input with a kernel,
#
# $$
# y_k = \sum_{j=0}^{k-1} K_j\, u_{k-j} + D \odot u_k, \qquad
# K_j = \operatorname{Re}\!\big(C \operatorname{diag}(\lambda)^j \operatorname{diag}(\gamma) B\big)
# \in \mathbb{R}^{H \times H}.
# $$
#
# Each eigenvalue contributes one decaying oscillation $\lambda_j^k = \lvert\lambda_j\rvert^k
# e^{i k \arg\lambda_j}$ to the kernel: the modulus sets **how long** the layer remembers, the
# phase **how fast** that memory oscillates. This is why everything in this course is about
# where the eigenvalues sit in the complex plane.

# %%
def kernel_from_scratch(p, length):
    """K (length, H, H) with K_j = Re(C diag(lambda)^j diag(gamma) B)."""
    lam = jnp.exp(-jnp.exp(p.nu_log) + 1j * jnp.exp(p.theta_log))
    B = jnp.exp(p.gamma_log)[:, None] * (p.B_re + 1j * p.B_im)
    powers = lam[None, :] ** jnp.arange(length)[:, None]  # (length, N): lambda^j
    return jnp.einsum("hn,jn,nm->jhm", p.C_re + 1j * p.C_im, powers, B).real


K = kernel_from_scratch(lru, L)
assert jnp.allclose(K, signal.kernel(lru, L), atol=1e-5)  # lrux's closed form
# the convolution of the input with K, plus D u, is the layer's output:
lags = jnp.arange(L)[:, None] - jnp.arange(L)[None, :]  # (k, t): k - t
toeplitz = jnp.where(lags[..., None] >= 0, u[jnp.clip(lags, 0, L - 1)], 0.0)  # u_{k-j}
y_conv = jnp.einsum("kjm,jhm->kh", toeplitz, K) + lru.D * u
print("max |convolution - lrux.LRU| =", float(jnp.abs(y_conv - y_lrux).max()))
assert jnp.allclose(y_conv, y_lrux, atol=1e-4 * float(jnp.abs(y_lrux).max()))

# %% [markdown]
# ### One eigenvalue, one kernel
#
# The figure shows the kernel of a single mode, $\operatorname{Re}(\lambda^k)$, for
# $\lambda = r e^{i\theta}$. The slider for $r$ works on a log scale of $1 - r$, so that
# $r = 0.9, 0.99, 0.999, \dots$ are equally far apart: these are the radii that matter.
#
# **Predict, then move the slider.** At $r = 0.999$ and $\theta = 0.05$: after how many steps
# has the envelope $r^k$ fallen to $1/e$, and how many steps is one oscillation? What happens
# to both when you set $\theta$ to its smallest value?
#
# <details><summary>Answer</summary>
#
# $r^k = e^{k \ln r} \approx e^{-k(1-r)}$, so the memory is about $1/(1 - r) = 1000$ steps
# ($0.999^{1000} = 0.368$, against $1/e = 0.368$); one period is $2\pi/\theta \approx 126$
# steps. With $\theta \to 0$ the kernel stops oscillating and is a plain exponential decay.
# The title prints both numbers for the values actually used (the slider's readout is $x$ in
# $r = 1 - 10^{-x}$; $x = 3$ is $r = 0.999$).
# </details>

# %% jupyter={"source_hidden": true}
# the answer's numbers, checked (click to expand)
course.claims(
    "1.2's answer",
    ("memory 1/(1 - r) = 1000 steps at r = 0.999", round(1 / (1 - 0.999)) == 1000, 1 / (1 - 0.999)),
    ("0.999^1000 = 0.368 = 1/e to 3 digits",
     f"{0.999**1000:.3f}" == f"{math.exp(-1):.3f}" == "0.368", (0.999**1000, math.exp(-1))),
    ("one period 2 pi / 0.05 is about 126 steps", round(2 * math.pi / 0.05) == 126,
     2 * math.pi / 0.05),
    ("the slider at x = 3 is r = 0.999, shown as such",
     course.fmt_r(course.r_of_digits(3.0)) == "0.999", course.fmt_r(course.r_of_digits(3.0))),
)

# %%
KLEN = 256 if SMALL else 4096  # fixed length: a new slider value never recompiles


@jax.jit
def one_mode_kernel(r, theta):
    k = jnp.arange(KLEN)
    return r**k * jnp.cos(theta * k)  # Re(lambda^k), lambda = r e^{i theta}


# %% jupyter={"source_hidden": true}
# the figure: plotting code (click to expand)
def draw_one_mode(r, theta):
    kern = np.asarray(one_mode_kernel(r, theta))
    fig, (a, b) = course.figure(2, widths=[3, 1])
    a.plot(kern, color=course.COLORS["lru"], lw=1, label=r"Re$(\lambda^k)$")
    a.plot(r ** np.arange(KLEN), color="0.4", ls="--", lw=1, label=r"envelope $r^k$")
    a.axhline(0, color="0.8", lw=0.8)
    a.set_xlabel("lag k (steps)")
    a.set_ylabel("kernel value")
    a.legend(loc="upper right")
    period = f"{2 * np.pi / theta:.0f} steps" if theta > 0 else "none"
    a.set_title(f"r = {course.fmt_r(r)}: memory 1/(1-r) = {1 / (1 - r):.3g} steps;"
                f"  theta = {theta:.3f} rad: period {period}")
    course.unit_circle(b)
    b.scatter([r * np.cos(theta)], [r * np.sin(theta)], color=course.COLORS["lru"], zorder=3)
    b.set_title(r"$\lambda$ in the complex plane")
    return fig


_ = Live(draw_one_mode, {
    "r": course.memory_slider(0.99, description="r = 1-10^-x"),
    "theta": course.float_slider(0.05, 0.0, math.pi, 0.005, "theta (rad/step)",
                                 tries=[0.0, 1.0]),
})

# %% [markdown]
# ### Exercise 1: write the kernel
#
# Write `kernel_yours(lam, B, C, length)` for a layer given directly by its eigenvalues
# `lam` (N,), input matrix `B` (N, H) (with $\gamma$ already folded in) and output matrix `C`
# (H, N), all complex. It returns the kernel `(length, H, H)` with
# $K_j = \operatorname{Re}(C \operatorname{diag}(\lambda)^j B)$. Replace the `raise` and run
# the cell.

# %%
def kernel_yours(lam, B, C, length):
    raise NotImplementedError  # your code here


course.check_kernel(kernel_yours)  # prints one line: correct, not attempted, or not yet

# %% tags=["solution"] jupyter={"source_hidden": true}
# Reference solution (a teacher hides it with LRUX_HIDE_SOLUTIONS=1)
kernel_solution = course.solution("kernel")
if kernel_solution:
    course.check_kernel(kernel_solution)

# %% [markdown]
# ## 1.3 Parallel in time: the scan
#
# A linear recurrence $x_k = a_k x_{k-1} + b_k$ composes: two steps $(a_i, b_i)$ then
# $(a_j, b_j)$ are one step
#
# $$
# (a_i, b_i) \bullet (a_j, b_j) = (a_j a_i,\; a_j b_i + b_j),
# $$
#
# and $\bullet$ is associative, so all $L$ states can be computed by a parallel prefix scan in
# $O(\log L)$ sequential depth instead of $L$ (the paper's appendix code does exactly this).
# A tanh RNN cannot do this: $\tanh$ does not compose into one step.
#
# The simplest parallel scan doubles its reach at every level: at level $d$, every position
# $k \ge 2^d$ combines its running pair with the pair of position $k - 2^d$; after
# $\lceil \log_2 L \rceil$ levels position $k$ holds the composition of steps $1, \dots, k$,
# i.e. $x_k$. Each level is **one** vectorised `combine` over all positions:

# %%
def combine(left, right):
    a_i, b_i = left
    a_j, b_j = right
    return a_j * a_i, a_j * b_i + b_j


def doubling_scan(a, b):
    """All states x_1..x_L of x_k = a_k x_{k-1} + b_k (x_0 = 0) in ceil(log2 L) levels."""
    levels, shift = 0, 1
    while shift < a.shape[0]:
        a_left = jnp.concatenate([jnp.ones_like(a[:shift]), a[:-shift]])  # the pair at k - shift
        b_left = jnp.concatenate([jnp.zeros_like(b[:shift]), b[:-shift]])  # (identity before 1)
        a, b = combine((a_left, b_left), (a, b))
        levels, shift = levels + 1, 2 * shift
    return b, levels


lam = lru.eigenvalues()
bu = (u @ (lru.B_re + 1j * lru.B_im).T) * jnp.exp(lru.gamma_log)  # (L, N): gamma B u_k
lams = jnp.broadcast_to(lam, bu.shape)
x_sequential = jax.lax.scan(lambda x, b: (lam * x + b,) * 2, jnp.zeros_like(lam), bu)[1]
x_doubling, levels = doubling_scan(lams, bu)
_, x_parallel = jax.lax.associative_scan(combine, (lams, bu))
x_lrux = lrux.linear_scan(lam, bu, mode="parallel")  # lrux's engine (also "sequential",
for x in (x_doubling, x_parallel, x_lrux):  # "chunked", "native": the same states)
    assert jnp.allclose(x, x_sequential, atol=1e-4)
print(f"L = {L}: {levels} levels of the doubling scan; doubling, jax.lax.associative_scan and "
      f"lrux.linear_scan == the sequential scan (max differences "
      f"{float(jnp.abs(x_doubling - x_sequential).max()):.1e}, "
      f"{float(jnp.abs(x_parallel - x_sequential).max()):.1e}, "
      f"{float(jnp.abs(x_lrux - x_sequential).max()):.1e})")

# %% [markdown]
# The figure draws the doubling scan for $L = 16$: a dot is a running pair, a line a
# `combine`. Every level is one parallel step, so the depth is 4, where the sequential
# recurrence needs 15 steps after the first; the price is more work, $L \log_2 L$ combines
# instead of $L$. `jax.lax.associative_scan` uses a work-efficient variant of the same idea
# (its docstring cites Blelloch 1990): $O(L)$ combines in about $2 \log_2 L$ levels, each
# level one vectorised call of `combine`; the cell below counts those calls.
#
# **Predict.** How many levels does the doubling scan need for PathX's $L = 16{,}384$, and how
# many sequential steps does the recurrence need?
#
# <details><summary>Answer</summary>
#
# $\log_2 16384 = 14$ levels, against 16,383 sequential steps after the first: one level is
# an elementwise product and sum over all $16{,}384 \times N$ numbers, which a GPU does at
# once. On a CPU with a few cores the sequential scan is often as fast (lrux picks its
# `scan_mode` by backend; `benchmarks/bench_lru.py` measures them).
# </details>

# %% jupyter={"source_hidden": true}
# the figure: plotting code (click to expand)
def draw_doubling_tree(length=16):
    fig, ax = course.figure(1, width=11, height=3.6)
    depth = math.ceil(math.log2(length))
    for d in range(depth):
        shift = 2**d
        for k in range(length):
            ax.plot([k, k], [d, d + 1], color="0.8", lw=1, zorder=1)  # the pair carried down
            if k >= shift:
                ax.plot([k - shift, k], [d, d + 1], color=course.COLORS["lru"], lw=1.2, zorder=2)
    for d in range(depth + 1):
        ax.scatter(range(length), [d] * length, s=18, color="k", zorder=3)
    ax.set_ylim(depth + 0.4, -0.4)
    ax.set_yticks(range(depth + 1), ["inputs (a_k, b_k)"] + [f"level {d + 1}" for d in range(depth)])
    ax.set_xticks(range(length), [str(k + 1) for k in range(length)])
    ax.set_xlabel("position k (after the last level it holds x_k)")
    ax.set_title(f"doubling scan, L = {length}: {depth} levels of parallel combines "
                 f"(blue) instead of {length - 1} sequential steps", fontsize=10)
    return fig


_ = course.show(draw_doubling_tree())

# %% jupyter={"source_hidden": true}
# the text's numbers, checked (click to expand)
calls = []


def counting_combine(left, right):
    calls.append(1)
    return combine(left, right)


jax.make_jaxpr(lambda a, b: jax.lax.associative_scan(counting_combine, (a, b)))(lams, bu)
course.claims(
    "1.3",
    ("the doubling scan over L steps takes ceil(log2 L) levels",
     levels == math.ceil(math.log2(L)), f"{levels} levels at L = {L}"),
    ("L = 16 takes 4 levels", doubling_scan(jnp.ones(16), jnp.ones(16))[1] == 4,
     doubling_scan(jnp.ones(16), jnp.ones(16))[1]),
    ("L = 16,384 takes 14 levels", math.ceil(math.log2(16384)) == 14, math.log2(16384)),
    ("associative_scan calls combine about 2 log2 L times",
     abs(len(calls) - 2 * math.log2(L)) <= 2, f"{len(calls)} calls at L = {L}"),
)

# %% [markdown]
# ## 1.4 The zoo: every layer of the paper by name
#
# lrux builds every layer of the paper's ablation ladder and the SSMs it compares with through
# one function, `lrux.make_mixer(name, d_model, d_state, key=...)`. Each works on **one**
# unbatched sequence `(seq, d_model)`; a batch is a `jax.vmap` over the layer, and every layer
# has `init_state()` and `step(state, u_k)` for recurrent inference, equal to the full call.

# %%
for name in lrux.mixer_names():
    print(f"{name:16s} {lrux.MIXERS[name].description}")

x = jax.random.normal(course.key(2), (64, H))
for name in ("lru", "rnn-tanh", "s4d"):
    mixer = lrux.make_mixer(name, H, 16, key=course.key(3))
    _, y_steps = jax.lax.scan(lambda s, x_k, m=mixer: m.step(s, x_k), mixer.init_state(), x)
    y_call = mixer(x)
    err = float(jnp.abs(y_steps - y_call).max() / jnp.abs(y_call).max())
    print(f"{name}: |step by step - full call| / |output| = {err:.1e}")
    assert err < 1e-4, (name, err)

batch = jax.random.normal(course.key(4), (8, 64, H))
print("vmap over a batch:", batch.shape, "->", jax.vmap(lru)(batch).shape)

# %% [markdown]
# A wrong shape is caught with a message that names what was expected: a batched input
# (use `jax.vmap`), or a sequence with the wrong number of channels.

# %%
for bad in (batch, jnp.zeros((64, H + 1))):
    try:
        lru(bad)
    except ValueError as e:
        print("ValueError:", e)

# %% [markdown]
# **In the deep model** (paper section 2.2) each layer sits in a residual block: a norm, the
# recurrent layer, a GELU, a gated linear unit, and the skip connection; six blocks, a
# pooling, a linear decoder. `lrux.models.make_model(mixer=name, ...)` builds it for any layer
# of the zoo; notebook 5 trains it. The recurrence is the only part that changes between the
# rungs of the paper's ladder, and the next notebooks are about that part.
#
# **Next:** [2. Why RNNs forget](02_why_rnns_forget.ipynb).
