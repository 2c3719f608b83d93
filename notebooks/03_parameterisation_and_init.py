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
# # 3. Where to put the eigenvalues, and how to store them
#
# Notebook 2 reduced a linear RNN to one complex number per mode, $\lambda_j$, with memory
# $\approx 1/(1 - \lvert\lambda_j\rvert)$ steps and stability exactly when $\lvert\lambda_j
# \rvert < 1$. The paper's next rungs decide four things about these numbers:
#
# 1. **how to store them**: the exponential parameterisation, and why it suits Adam;
# 2. **where to start them**: the ring initialisation (Lemma 2);
# 3. **what that does to the forward pass**: the state blows up as $\lvert\lambda\rvert \to 1$
#    (Prop. 3), and the normalisation $\gamma$ cancels it;
# 4. **how fast they turn**: the phase, and why long-range tasks want small phases.

# %%
import math

import course
import jax
import jax.numpy as jnp
import numpy as np
import optax
from course import RINGS, SMALL, Live

import lrux
from lrux import signal

# %% [markdown]
# ## 3.1 The exponential parameterisation
#
# A complex diagonal RNN can store $\lambda$ in several ways; the paper's ladder climbs
# through three of them (lrux's rungs `diag-reim`, `diag-exp`, `diag-stable-exp`):
#
# $$
# \underbrace{\lambda = a + i b}_{(a,\, b)} \qquad
# \underbrace{\lambda = \exp(\nu + i\theta)}_{(\nu,\, \theta)} \qquad
# \underbrace{\lambda = \exp\!\big(-e^{\nu^{\log}} + i\, e^{\theta^{\log}}\big)}_{(\nu^{\log},\, \theta^{\log})}
# $$
#
# The exponential forms separate the **magnitude** $\lvert\lambda\rvert = e^{\nu}$ from the
# **phase** $\theta$, two coordinates with different jobs (memory length and oscillation
# speed). The last one also makes $\lvert\lambda\rvert = \exp(-e^{\nu^{\log}}) < 1$ for every
# parameter value, and stores the phase by its log, because good phases are small. Why does
# this matter for training? Adam moves **each parameter by about the learning rate per step**,
# whatever the size of the gradient. In $(a, b)$ or $(\nu, \theta)$ a step of $10^{-2}$ moves
# $\lvert\lambda\rvert$ by about $10^{-2}$: near the circle, where the long memories live
# ($1 - \lvert\lambda\rvert = 10^{-3}$), one step can cross it. In $\nu^{\log}$ a step of
# $10^{-2}$ multiplies $1 - \lvert\lambda\rvert$ by about $e^{\pm 0.01}$: the closer to the
# circle, the finer the step, and it can never cross.
#
# First the three maps from scratch, checked against lrux's rungs:

# %%
def lam_reim(p):
    return p[0] + 1j * p[1]  # (a, b)


def lam_exp(p):
    return jnp.exp(p[0] + 1j * p[1])  # (nu, theta), nu < 0 inside the disk


def lam_stable_exp(p):
    return jnp.exp(-jnp.exp(p[0]) + 1j * jnp.exp(p[1]))  # (nu_log, theta_log)


PARAMS = {  # lambda(p), and p from lambda, per rung
    "diag-reim": (lam_reim, lambda z: jnp.stack([z.real, z.imag])),
    "diag-exp": (lam_exp, lambda z: jnp.stack([jnp.log(jnp.abs(z)), jnp.angle(z)])),
    "diag-stable-exp": (lam_stable_exp,
                        lambda z: jnp.stack([jnp.log(-jnp.log(jnp.abs(z))), jnp.log(jnp.angle(z))])),
}
fields = {"diag-reim": ("lam_re", "lam_im"), "diag-exp": ("nu", "theta"),
          "diag-stable-exp": ("nu_log", "theta_log")}
for name, (lam_of, _) in PARAMS.items():
    layer = lrux.make_mixer(name, 1, 16, key=jax.random.key(0))
    p = jnp.stack([getattr(layer, f) for f in fields[name]])
    assert jnp.allclose(lam_of(p), layer.eigenvalues(), atol=1e-6), name
print("the three parameterisations give lrux's eigenvalues")

# %% [markdown]
# ### Adam in three coordinate systems
#
# The experiment: fit one mode's kernel, $\lambda^k$ for $k < 2048$, to a target
# $\lambda^\star = r^\star e^{0.05 i}$ near the circle, by minimising
# $\frac{1}{2048} \sum_k \lvert \lambda^k - (\lambda^\star)^k\rvert^2$ with Adam, from the same
# start $\lambda_0 = 0.9\, e^{0.5 i}$, in each parameterisation. Same loss, same start, same
# optimiser and learning rate: only the coordinates differ.
#
# **Predict, then move the sliders.** (1) At the default learning rate $10^{-2}$, which
# parameterisations reach $\lambda^\star$ in 400 steps? (2) What happens to the loss of a
# parameterisation in the step where $\lambda$ leaves the disk, and to its progress after
# that? (3) Is there a learning rate at which all three converge?
#
# <details><summary>Answer</summary>
#
# (1) Only $(\nu^{\log}, \theta^{\log})$ at this start and target. $(a, b)$ and $(\nu, \theta)$
# take steps of fixed size in their coordinates, and near $\lvert\lambda\rvert = 1$ one of
# them crosses the circle (the titles give the step). (2) Outside the disk $\lambda^{2047}$ is
# large: the loss and its gradient jump by orders of magnitude, Adam's running estimate of
# the squared gradient jumps with them, and for the next ~1000 steps (its memory,
# $1/(1 - \beta_2)$) every step is tiny: the parameter freezes far from the target. (3) Small
# learning rates avoid the crossing but then no parameterisation gets near the target in 400
# steps (try $10^{-3}$); large ones make $(a, b)$ and $(\nu, \theta)$ leave the disk or stall,
# while the stable exponential converges for learning rates from about $10^{-2}$ to $10^{-1}$.
# </details>

# %%
ADAM_STEPS = 100 if SMALL else 400
LAGS = jnp.arange(2048)
LAM0 = 0.9 * np.exp(0.5j)


def kernel_loss(lam, target):
    return jnp.mean(jnp.abs(lam**LAGS - target**LAGS) ** 2)


@jax.jit
def adam_paths(target, lr):
    """lambda and the loss after each Adam step, for each parameterisation."""
    paths = {}
    for name, (lam_of, p_of) in PARAMS.items():
        tx = optax.adam(lr)
        p = p_of(jnp.complex64(LAM0))

        def step(carry, _, lam_of=lam_of, tx=tx):
            p, state = carry
            loss, grad = jax.value_and_grad(lambda q: kernel_loss(lam_of(q), target))(p)
            updates, state = tx.update(grad, state, p)
            return (optax.apply_updates(p, updates), state), (lam_of(p), loss)

        paths[name] = jax.lax.scan(step, (p, tx.init(p)), None, length=ADAM_STEPS)[1]
    return paths


def _first(mask):
    return int(np.argmax(mask)) if mask.any() else None


# %% jupyter={"source_hidden": true}
# the figure: plotting code (click to expand)
def draw_adam(r_target, lr):
    target = r_target * np.exp(0.05j)
    paths = {k: tuple(np.asarray(a) for a in v) for k, v in adam_paths(target, lr).items()}
    fig, (a, b) = course.figure(2, widths=[1.25, 1], width=12, height=4.6)
    course.unit_circle(a)
    a.set_aspect("auto")
    notes = []
    for name in PARAMS:  # in the ladder's order
        lams, losses = paths[name]
        ok = np.isfinite(lams)
        a.plot(lams.real[ok], lams.imag[ok], ".-", ms=2.5, lw=0.6, color=course.COLORS[name],
               label=name)
        b.semilogy(np.where(np.isfinite(losses), losses, np.nan), color=course.COLORS[name],
                   ls=course.STYLES[name], label=name)
        out = _first(np.abs(lams) > 1)
        near = _first(np.abs(lams - target) < 0.1 * (1 - r_target))
        notes.append(f"{name}: " + (f"left the disk at step {out}" if out is not None else
                                    f"reached λ* at step {near}" if near is not None else
                                    "inside, not yet at λ*"))
    a.plot([LAM0.real], [LAM0.imag], "ko", label="start")
    a.plot([target.real], [target.imag], "k*", ms=12, label="target λ*")
    a.set_xlim(0.6, 1.08)
    a.set_ylim(-0.25, 0.55)
    a.legend(loc="lower left", fontsize=8)
    a.set_title(f"Adam, lr = {lr:.3g}, target |λ*| = {course.fmt_r(r_target)}", fontsize=10)
    b.set_xlabel("Adam step")
    b.set_ylabel("kernel loss")
    b.set_title("\n".join(notes), fontsize=8.5)
    return fig


_ = Live(draw_adam, {
    "r_target": course.memory_slider(0.999, description="target |λ*| = 1-10^-x"),
    "lr": course.float_slider(1e-2, -3, -1, 0.05, "learning rate", log=True),
})

# %% [markdown]
# This is the paper's reason for the exponential parameterisation with $\nu^{\log}$: not that
# $(a, b)$ cannot represent a good $\lambda$ (it is the same set of layers), but that Adam's
# fixed-size steps in those coordinates do not respect the geometry that matters, the distance
# $1 - \lvert\lambda\rvert$ to the circle. lrux's LRU stores exactly $(\nu^{\log},
# \theta^{\log})$ (`nu_log`, `theta_log`).
#
# ## 3.2 The ring initialisation (Lemma 2)
#
# Where should $\lambda$ start? Notebook 2 showed that memory needs $\lvert\lambda\rvert$
# close to 1, and a Glorot matrix (the uniform disk) puts only a few modes there. The paper
# samples $\lambda$ **uniformly on a ring** $r_{\min} \le \lvert\lambda\rvert \le r_{\max}$
# with phase in $[0, \theta_{\max}]$: with $u_1, u_2 \sim U[0, 1]$,
#
# $$
# \nu = -\tfrac12 \log\!\big(u_1 (r_{\max}^2 - r_{\min}^2) + r_{\min}^2\big), \qquad
# \theta = \theta_{\max}\, u_2, \qquad \lambda = e^{-\nu + i\theta}.
# $$
#
# Then $\lvert\lambda\rvert^2 = e^{-2\nu}$ is uniform on $[r_{\min}^2, r_{\max}^2]$, which is
# what "uniform on the ring" (uniform area) means, and $\nu^{\log} = \log\nu$, $\theta^{\log}
# = \log\theta$ are the LRU's parameters. The paper's rings (Table 9) range from $[0, 0.99]$
# for ListOps to $[0.999, 0.9999]$ with $\theta_{\max} = \pi/10$ for PathX. From scratch, with
# the same uniforms lrux draws:

# %%
def ring_from_uniforms(u1, u2, r_min, r_max, max_phase):
    nu = -0.5 * jnp.log(u1 * (r_max**2 - r_min**2) + r_min**2)
    return jnp.exp(-nu + 1j * max_phase * u2)


N_RING = 64 if SMALL else 256
k1, k2 = jax.random.split(jax.random.key(0))
U1 = jax.random.uniform(k1, (N_RING,), minval=1e-7, maxval=1 - 1e-7)  # as lrux.init.ring_init
U2 = jax.random.uniform(k2, (N_RING,), minval=1e-7, maxval=1.0)
nu, theta = lrux.init.ring_init(jax.random.key(0), N_RING, 0.9, 0.999, math.pi)
assert jnp.allclose(ring_from_uniforms(U1, U2, 0.9, 0.999, math.pi), jnp.exp(-nu + 1j * theta),
                    atol=1e-6)
lru = lrux.LRU(1, N_RING, r_min=0.9, r_max=0.999, max_phase=math.pi, key=jax.random.key(0))
mod, phase = jnp.abs(lru.eigenvalues()), jnp.angle(lru.eigenvalues())  # the LRU uses ring_init
assert (mod >= 0.9 - 1e-6).all() and (mod <= 0.999 + 1e-6).all() and (phase >= 0).all()

# %% [markdown]
# **Predict, then move the ring.** The range slider sets $[r_{\min}, r_{\max}]$ on a log
# scale of $1 - r$ (position $x$ is $r = 1 - 10^{-x}$; the buttons set the paper's rings).
# For sCIFAR's ring $[0.9, 0.999]$, which fraction of the modes remembers longer than 100 steps
# ($\lvert\lambda\rvert > 0.99$)? Guess before you read the title.
#
# <details><summary>Answer</summary>
#
# $\lvert\lambda\rvert^2$ is uniform on $[0.81, 0.998]$, so the fraction above $0.99^2 =
# 0.980$ is $(0.998 - 0.980)/(0.998 - 0.81) \approx 9.5\%$: uniform area puts most modes near
# the inner edge. The title counts them for this draw.
# </details>

# %%
@jax.jit
def ring_draw(r_min, r_max, max_phase):
    return ring_from_uniforms(U1, U2, r_min, r_max, max_phase)


# %% jupyter={"source_hidden": true}
# the figure: plotting code (click to expand)
def draw_ring(ring, max_phase):
    r_min, r_max = ring
    lam = np.asarray(ring_draw(r_min, r_max, max_phase))
    mod = np.abs(lam)
    fig, (a, b, c) = course.figure(3, widths=[1, 1.2, 1.2], width=13, height=4)
    course.unit_circle(a)
    a.scatter(lam.real, lam.imag, s=6, color=course.COLORS["lru"])
    a.set_title(f"ring [{course.fmt_r(r_min)}, {course.fmt_r(r_max)}], "
                f"max phase {course.fmt_phase(max_phase)}", fontsize=9)
    b.hist(mod**2, bins=20, range=(r_min**2, r_max**2) if r_max > r_min else None,
           color=course.COLORS["lru"], label="this draw")
    b.axhline(len(lam) / 20, color="k", ls="--", lw=1, label="uniform")
    b.legend(loc="lower right", fontsize=8)
    b.set_xlabel("|λ|²")
    b.set_ylabel("modes")
    b.set_title("|λ|² is uniform on [r_min², r_max²]", fontsize=9)
    memory = 1 / np.maximum(1 - mod, 1e-12)
    c.hist(np.log10(memory), bins=20, color=course.COLORS["lru"])
    c.set_xlabel("memory 1/(1 - |λ|), log10 steps")
    c.set_title(f"{(mod > 0.99).mean():.1%} of the modes have |λ| > 0.99", fontsize=9)
    return fig


_ = Live(draw_ring, {"ring": course.ring_slider(0.9, 0.999), "max_phase": course.phase_slider()},
         presets={k: {"ring": v[:2], "max_phase": v[2]} for k, v in RINGS.items()})

# %% [markdown]
# ### Exercise 3: write the ring init
#
# Write `ring_init_yours(key, n, r_min, r_max, max_phase)` returning `n` complex eigenvalues
# uniform on the ring. The check draws 20,000 of them and tests that $\lvert\lambda\rvert^2$
# and the phase are uniform (Kolmogorov-Smirnov): a $\lvert\lambda\rvert$ drawn uniformly on
# $[r_{\min}, r_{\max}]$ fails it.

# %%
def ring_init_yours(key, n, r_min, r_max, max_phase):
    raise NotImplementedError  # your code here


course.check_ring_init(ring_init_yours)

# %% tags=["solution"] jupyter={"source_hidden": true}
ring_init_solution = course.solution("ring_init")
if ring_init_solution:
    course.check_ring_init(ring_init_solution)

# %% [markdown]
# ## 3.3 The forward blow-up (Prop. 3) and $\gamma$
#
# Long memory has a price in the forward pass. Feed white noise $u_k \sim \mathcal{N}(0, I)$
# into one mode, $x_k = \lambda x_{k-1} + b^\top u_k$. The terms of
# $x_k = \sum_{j < k} \lambda^j b^\top u_{k-j}$ are independent, so
#
# $$
# \mathbb{E}\lvert x_k\rvert^2 = \lVert b\rVert^2 \sum_{j=0}^{k-1} \lvert\lambda\rvert^{2j}
# = \lVert b\rVert^2\, \frac{1 - \lvert\lambda\rvert^{2k}}{1 - \lvert\lambda\rvert^2}
# \;\xrightarrow{k \to \infty}\; \frac{\mathbb{E}\lvert b^\top u\rvert^2}{1 - \lvert\lambda\rvert^2}.
# $$
#
# For $\lambda$ uniform on a ring, averaging $1/(1 - \lvert\lambda\rvert^2)$ over
# $\lvert\lambda\rvert^2 \sim U[r_{\min}^2, r_{\max}^2]$ gives the paper's Prop. 3:
#
# $$
# \frac{\mathbb{E}\lVert x_\infty\rVert^2}{\mathbb{E}\lVert B u\rVert^2}
# = \frac{1}{r_{\max}^2 - r_{\min}^2}\, \log\frac{1 - r_{\min}^2}{1 - r_{\max}^2}.
# $$
#
# It diverges as $r_{\max} \to 1$: exactly the modes that remember also amplify. The LRU
# multiplies the input of mode $j$ by $\gamma_j = \sqrt{1 - \lvert\lambda_j\rvert^2}$, which
# cancels the factor mode by mode: with $\gamma$, $\mathbb{E}\lvert x_{\infty,j}\rvert^2 =
# \mathbb{E}\lvert (Bu)_j\rvert^2$ for every mode, at initialisation ($\gamma$ is trainable).
#
# The closed form at every $k$, from scratch, against lrux's `predicted_state_variance`
# (which uses the layer's own $\lambda$, $B$ and $\gamma$):

# %%
def closed_form_variance(lam, B, length):
    """E|x_k|^2 per mode, k = 1..length, for white-noise input: (length, N)."""
    r2 = jnp.abs(lam) ** 2
    k = jnp.arange(1, length + 1)[:, None]
    return jnp.sum(jnp.abs(B) ** 2, axis=1) * (1 - r2**k) / (1 - r2)


gamma = jnp.exp(lru.gamma_log)[:, None]
B = lru.B_re + 1j * lru.B_im
ours = closed_form_variance(lru.eigenvalues(), gamma * B, 500).mean(axis=1)
assert jnp.allclose(ours, signal.predicted_state_variance(lru, 500), rtol=1e-4)
ours = closed_form_variance(lru.eigenvalues(), B, 500).mean(axis=1)
assert jnp.allclose(ours, signal.predicted_state_variance(signal.without_gamma(lru), 500),
                    rtol=1e-4)

# %% [markdown]
# The figure measures $\mathbb{E}\lVert x_k\rVert^2 / \mathbb{E}\lVert Bu\rVert^2$ by Monte
# Carlo (8 white-noise sequences of 16,384 steps, a PathX length, through the recurrence;
# the measured curve is averaged over windows of $\pm 5\%$ in $k$), next to the closed form of
# this layer's own 64 modes, with and without $\gamma$, and the ring formula (black). Because
# of the normalisation the LRU's line ends at exactly 1.
#
# **Predict, then press the buttons.** Order the paper's four rings by how much they would
# blow up the state without $\gamma$. Then: does a thin ring close to the circle (PathX) or a
# wide ring that reaches it (ListOps' $[0, 0.99]$) amplify more?
#
# <details><summary>Answer</summary>
#
# Text $[0.5, 0.9]$ (about 2.5x) < ListOps $[0, 0.99]$ (about 4x) < sCIFAR $[0.9, 0.999]$ (about
# 24x) < PathX $[0.999, 0.9999]$ (about 1280x). The factor is an average of $1/(1 - r^2)$
# over the ring: a wide ring is dominated by its many fast modes, a thin ring near the
# circle has only slow ones. The black line is the ring average; a layer with 64 modes
# samples it, and its few slowest modes pull its own curve above or below the line.
# </details>

# %%
N_VAR, SAMPLES = 64, 8
L_VAR = 1024 if SMALL else 16384
u_var = jax.random.normal(jax.random.key(3), (SAMPLES, L_VAR))  # H = 1
B_var = (jax.random.normal(jax.random.key(4), (N_VAR,))
         + 1j * jax.random.normal(jax.random.key(5), (N_VAR,))) / math.sqrt(2)
K_PLOT = np.unique(np.geomspace(1, L_VAR, 300).astype(int))  # log-spaced steps


def window_mean(v):
    """The mean of v (L,) over [k/1.05, k*1.05] at each plotted k (less Monte Carlo noise)."""
    cs = jnp.concatenate([jnp.zeros(1), jnp.cumsum(v)])
    lo = jnp.clip((K_PLOT / 1.05).astype(int), 0, L_VAR - 1)
    hi = jnp.clip((K_PLOT * 1.05).astype(int), lo + 1, L_VAR)
    return (cs[hi] - cs[lo]) / (hi - lo)


@jax.jit
def variances(r_min, r_max):
    lam = ring_from_uniforms(U1[:N_VAR], U2[:N_VAR], r_min, r_max, 2 * math.pi)
    bu = B_var[None, :] * u_var[..., None]  # (S, L, N): B u_k without gamma
    xs = jax.lax.scan(lambda x, b: (lam * x + b,) * 2, jnp.zeros((SAMPLES, N_VAR), jnp.complex64),
                      jnp.swapaxes(bu, 0, 1))[1]  # (L, S, N)
    measured = jnp.mean(jnp.abs(xs) ** 2, axis=1)  # (L, N)
    closed = closed_form_variance(lam, B_var[:, None], L_VAR)
    gamma2 = 1 - jnp.abs(lam) ** 2
    norm = jnp.mean(jnp.abs(B_var) ** 2)  # E|Bu|^2 per mode
    out = (measured.mean(1), closed.mean(1), (gamma2 * measured).mean(1), (gamma2 * closed).mean(1))
    return tuple(o / norm for o in out), jnp.abs(lam).max()


# %% jupyter={"source_hidden": true}
# the figure: plotting code (click to expand)
def draw_variance(ring):
    r_min, r_max = ring
    (m_plain, c_plain, m_lru, c_lru), slowest = variances(r_min, r_max)
    fig, ax = course.figure(1, width=10, height=4.4)
    ax.loglog(K_PLOT, np.asarray(window_mean(m_plain)), color=course.COLORS["diag-ring"], alpha=0.5,
              lw=3, label="without γ (diag-ring): measured")
    ax.loglog(K_PLOT, np.asarray(c_plain)[K_PLOT - 1], color=course.COLORS["diag-ring"], ls="--",
              label="without γ: closed form")
    ax.loglog(K_PLOT, np.asarray(window_mean(m_lru)), color=course.COLORS["lru"], alpha=0.5,
              lw=3, label="with γ (LRU): measured")
    ax.loglog(K_PLOT, np.asarray(c_lru)[K_PLOT - 1], color=course.COLORS["lru"], ls="--",
              label="with γ: closed form")
    factor = signal.ring_variance(r_min, r_max)
    ax.axhline(factor, color="k", lw=1, label=f"ring formula (Prop. 3): {factor:.4g}")
    ax.set_xlabel("step k (white-noise input from k = 1)")
    ax.set_ylabel("E‖x_k‖² / E‖Bu‖²")
    ax.set_title(f"ring [{course.fmt_r(r_min)}, {course.fmt_r(r_max)}]: at k = {L_VAR} "
                 f"without γ {float(c_plain[-1]):.4g}x, with γ {float(c_lru[-1]):.3f}x "
                 f"(slowest mode |λ| = {float(slowest):.5f})", fontsize=9.5)
    ax.legend(fontsize=8, loc="upper left")
    return fig


_ = Live(draw_variance, {"ring": course.ring_slider(0.9, 0.999)},
         presets={k: {"ring": v[:2]} for k, v in RINGS.items()})

# %% [markdown]
# At $r_{\max} = 0.99999$ (the slider's end) the slowest modes need about $1/(1 - r^2)
# \approx 50{,}000$ steps to reach their stationary variance, more than the 16,384 shown: the
# curves are still rising at the right edge, and the closed form tells you where they would
# end.
#
# ### Exercise 4: the Prop. 3 factor
#
# Derive the ring factor: write `ring_factor_yours(r_min, r_max)` returning
# $\mathbb{E}\lVert x_\infty\rVert^2 / \mathbb{E}\lVert Bu\rVert^2$ for $\lambda$ uniform on
# the ring. The check compares it with a numerical average of $1/(1 - \lvert\lambda\rvert^2)$;
# mind the thin ring $r_{\min} = r_{\max}$.

# %%
def ring_factor_yours(r_min, r_max):
    raise NotImplementedError  # your code here


course.check_ring_factor(ring_factor_yours)

# %% tags=["solution"] jupyter={"source_hidden": true}
ring_factor_solution = course.solution("ring_factor")
if ring_factor_solution:
    course.check_ring_factor(ring_factor_solution)

# %% [markdown]
# ### Exercise 5: when does a thin ring hurt?
#
# Keep $r_{\max} = 0.9999$ (PathX) and raise $r_{\min}$ from 0. Find the smallest $r_{\min}$
# at which the state without $\gamma$ is blown up **100x** (the ring formula reaches 100). Use
# the slider above, your `ring_factor_yours`, or bisection; set `r_min_yours` and run the check.

# %%
r_min_yours = None  # your answer, e.g. 0.9
course.check_thin_ring_r_min(r_min_yours)

# %% tags=["solution"] jupyter={"source_hidden": true}
thin_ring_solution = course.solution("thin_ring_r_min")
if thin_ring_solution:
    course.check_thin_ring_r_min(thin_ring_solution())

# %% [markdown]
# ## 3.4 Phase and long range
#
# The kernel of one mode oscillates at $\arg\lambda$ radians per step. With phases uniform on
# $[0, 2\pi]$, most modes oscillate fast: over a long sequence they average out whatever lies
# far back and respond to local patterns. With a small $\theta_{\max}$ every mode is slow and
# the kernel carries long-range, low-frequency information. (A real kernel sees a phase
# $\theta > \pi$ as the frequency $2\pi - \theta$, so phases in $[0, 2\pi]$ cover every
# frequency up to $\pi$.) The paper uses $\theta_{\max} = \pi/10$ on PathX, where uniform
# phases failed.
#
# The figure shows the kernel $K_k = \operatorname{Re}\sum_j c_j \gamma_j b_j \lambda_j^k$ of
# a one-channel LRU ring (the layer of section 3.2, $C$ and $B$ random) and its spectrum
# $\lvert\hat K(\omega)\rvert$ against the angular frequency $\omega$ in radians per step.
#
# **Predict, then move the sliders.** Press PathX, then move the max phase from $\pi/10$ to
# $2\pi$. Where does the spectrum end in each case, and what happens to the share of the
# kernel's energy at frequencies below $0.01$ rad/step (oscillations slower than 600 steps)?
#
# <details><summary>Answer</summary>
#
# With $\theta_{\max} = \pi/10$ the spectrum stops at $\omega \approx 0.31$ (the dashed
# line), and about a tenth of the energy sits below $0.01$ rad/step. With $2\pi$ the
# spectrum fills $[0, \pi]$ and that share drops by more than an order of magnitude: the
# same modes now spread their energy over ten times the bandwidth. The title prints the
# share for the values used.
# </details>

# %%
L_K = 512 if SMALL else 8192
C_K = (jax.random.normal(jax.random.key(6), (N_RING,))
       + 1j * jax.random.normal(jax.random.key(7), (N_RING,))) / math.sqrt(N_RING)
B_K = (jax.random.normal(jax.random.key(8), (N_RING,))
       + 1j * jax.random.normal(jax.random.key(9), (N_RING,))) / math.sqrt(2)
OMEGA = np.fft.rfftfreq(L_K) * 2 * np.pi  # rad / step


@jax.jit
def ring_kernel(r_min, r_max, max_phase):
    lam = ring_from_uniforms(U1, U2, r_min, r_max, max_phase)
    gamma = jnp.sqrt(1 - jnp.abs(lam) ** 2)
    k = jnp.arange(L_K)[:, None]
    kern = jnp.real(jnp.sum(C_K * gamma * B_K * lam**k, axis=1))
    power = jnp.abs(jnp.fft.rfft(kern)) ** 2
    return kern, power


# %% jupyter={"source_hidden": true}
# the figure: plotting code (click to expand)
def draw_phase(ring, max_phase):
    r_min, r_max = ring
    kern, power = (np.asarray(v) for v in ring_kernel(r_min, r_max, max_phase))
    slow = power[OMEGA < 0.01].sum() / power.sum()
    fig, (a, b) = course.figure(2, width=12, height=3.8)
    a.plot(kern, color=course.COLORS["lru"], lw=0.7)
    a.set_xlabel("lag k (steps)")
    a.set_ylabel("kernel value")
    a.set_title(f"ring [{course.fmt_r(r_min)}, {course.fmt_r(r_max)}], "
                f"max phase {course.fmt_phase(max_phase)}", fontsize=10)
    b.semilogy(OMEGA, power / power.max() + 1e-12, color=course.COLORS["lru"], lw=0.8)
    b.axvline(min(max_phase, math.pi), color="k", ls="--", lw=1,
              label=f"min(max phase, π) = {min(max_phase, math.pi):.2f}")
    b.set_ylim(1e-8, 2)
    b.set_xlabel("angular frequency ω (rad/step)")
    b.set_ylabel("|K̂(ω)|², normalised")
    b.set_title(f"{slow:.1%} of the energy below 0.01 rad/step", fontsize=10)
    b.legend(loc="upper right", fontsize=8)
    return fig


_ = Live(draw_phase, {"ring": course.ring_slider(0.99, 0.999), "max_phase": course.phase_slider()},
         presets={k: {"ring": v[:2], "max_phase": v[2]} for k, v in RINGS.items()})

# %% [markdown]
# ## What we have
#
# | choice | the paper's reason | seen here |
# |---|---|---|
# | $\lambda = \exp(-e^{\nu^{\log}} + i e^{\theta^{\log}})$ | stable for every parameter value; magnitude and phase separate; relative steps near the circle | 3.1: Adam stays inside the disk and converges where $(a, b)$ and $(\nu, \theta)$ leave it and freeze |
# | ring init $[r_{\min}, r_{\max}]$ | long memory needs $\lvert\lambda\rvert \to 1$ for many modes | 3.2 |
# | $\gamma = \sqrt{1 - \lvert\lambda\rvert^2}$ | the state variance grows like the ring factor of Prop. 3 | 3.3: measured and closed form, 1x with $\gamma$ |
# | small $\theta_{\max}$ (PathX) | slow modes carry long-range information | 3.4: the bandwidth of the kernel is $\theta_{\max}$ |
#
# **Next:** [4. Kernels: S4D-Lin is a ring in disguise; the kernel toy](04_kernels.ipynb).
