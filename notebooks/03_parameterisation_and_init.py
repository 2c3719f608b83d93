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
# parameter value, and stores the phase by its log, because good phases are small. The paper
# says only that separating magnitude from phase "suits Adam"; here is one way to see why.
# Adam moves **each parameter by about the learning rate per step**,
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
    layer = lrux.make_mixer(name, 1, 16, key=course.key(0))
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

# %%
ADAM_STEPS = 400  # the question's budget, also at small size (a few ms per step)
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

# %% jupyter={"source_hidden": true}
# the answer, computed: Adam at five learning rates, target |λ*| = 0.999 (click to expand)
def outcome(lams, target, r_target):
    """What Adam did in 400 steps: (kind, step, detail)."""
    dist = np.abs(lams - target)
    out, near = _first(np.abs(lams) > 1), _first(dist < 0.1 * (1 - r_target))
    if out is not None:
        return "left", out, f"left the disk at step {out}"
    if near is not None:
        if dist[-1] < 0.1 * (1 - r_target):
            return "reached", near, f"reached λ* at step {near} and stayed"
        return "reached-left", near, (f"reached λ* at step {near}, then moved away "
                                      f"(distance {dist[-1]:.1e} at the end)")
    best = int(np.nanargmin(dist))
    return "inside", best, (f"inside; closest to λ* at step {best} (distance "
                            f"{dist[best]:.1e}), {dist[-1]:.1e} at the end")


LRS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
R_TARGET = 0.999
TARGET = R_TARGET * np.exp(0.05j)
OUTCOMES = {lr: {name: outcome(np.asarray(path[0]), TARGET, R_TARGET)
                 for name, path in adam_paths(TARGET, lr).items()} for lr in LRS}
start_distance = abs(LAM0 - TARGET)
table = ["| learning rate | " + " | ".join(PARAMS) + " |", "|---" * (len(PARAMS) + 1) + "|"]
for lr in LRS:
    table.append(f"| {lr:g} | " + " | ".join(OUTCOMES[lr][n][2] for n in PARAMS) + " |")
default = OUTCOMES[1e-2]
stays = [lr for lr in LRS if OUTCOMES[lr]["diag-stable-exp"][0] == "reached"]
leaves = {n: [lr for lr in LRS if OUTCOMES[lr][n][0] == "left"] for n in ("diag-reim", "diag-exp")}
course.answer(
    "(1) At $10^{-2}$: " + "; ".join(f"`{n}` {default[n][2]}" for n in PARAMS) + ". "
    "$(a, b)$ and $(\\nu, \\theta)$ take steps of fixed size in their coordinates, and near "
    "$\\lvert\\lambda\\rvert = 1$ one of them crosses the circle. (2) Outside the disk "
    "$\\lambda^{2047}$ is large: the loss and its gradient jump, Adam's running estimate of the "
    "squared gradient jumps with them, and for hundreds of steps (its memory, "
    "$1/(1 - \\beta_2) = 1000$) every step is small: the parameter stays far from the target "
    f"(the start is {start_distance:.2f} from $\\lambda^\\star$). (3) Not in 400 steps. "
    "The table gives what Adam did at five learning rates ($\\lvert\\lambda^\\star\\rvert = "
    "0.999$; \"reached\" is within $0.1 (1 - \\lvert\\lambda^\\star\\rvert)$ of it):\n\n"
    + "\n".join(table) + "\n\n"
    f"The stable exponential reaches the target and stays only at "
    f"{', '.join(f'{lr:g}' for lr in stays)}; "
    + "; ".join(f"at {lr:g} it is {OUTCOMES[lr]['diag-stable-exp'][2]}" for lr in LRS
                if lr not in stays)
    + ". It never leaves the disk. The other two leave the disk at "
    + " and ".join(f"{', '.join(f'{lr:g}' for lr in leaves[n])} (`{n}`)" for n in leaves)
    + "; where they stay inside, they do not arrive in 400 steps.")
course.claims(
    "3.1",
    ("at lr 1e-2 only the stable exponential reaches λ*",
     [default[n][0] for n in PARAMS] == ["left", "left", "reached"], default),
    ("the two others leave the disk and stay far from λ*",
     all(abs(np.asarray(adam_paths(TARGET, 1e-2)[n][0])[-1] - TARGET) > 10 * (1 - R_TARGET)
         for n in ("diag-reim", "diag-exp")), "a final distance below 10 (1 - |λ*|)"),
    ("no learning rate makes all three reach λ*",
     not any(all(OUTCOMES[lr][n][0] == "reached" for n in PARAMS) for lr in LRS), OUTCOMES),
    ("the stable exponential never leaves the disk",
     all(OUTCOMES[lr]["diag-stable-exp"][0] != "left" for lr in LRS), OUTCOMES),
)

# %% [markdown]
# This is our reading of the paper's "suits Adam" for the exponential parameterisation with
# $\nu^{\log}$: not that $(a, b)$ cannot represent a good $\lambda$ (it is the same set of
# layers), but that Adam's fixed-size steps in those coordinates do not respect the geometry
# that matters, the distance
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


N_RING = 256  # also at small size: the 9.5% of 3.2 is a fraction of these
k1, k2 = jax.random.split(course.key(0))
U1 = jax.random.uniform(k1, (N_RING,), minval=1e-7, maxval=1 - 1e-7)  # as lrux.init.ring_init
U2 = jax.random.uniform(k2, (N_RING,), minval=1e-7, maxval=1.0)
nu, theta = lrux.init.ring_init(course.key(0), N_RING, 0.9, 0.999, math.pi)
assert jnp.allclose(ring_from_uniforms(U1, U2, 0.9, 0.999, math.pi), jnp.exp(-nu + 1j * theta),
                    atol=1e-6)
lru = lrux.LRU(1, N_RING, r_min=0.9, r_max=0.999, max_phase=math.pi, key=course.key(0))
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
# the inner edge. The title counts them for this draw (of 256 modes, so it varies by a few
# percent around 9.5%).
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
    width = max(r_max**2 - r_min**2, 1e-12)  # |λ|² rescaled to [0, 1]: readable ticks on any ring
    b.hist((mod**2 - r_min**2) / width, bins=20, range=(0, 1), color=course.COLORS["lru"],
           label="this draw")
    b.axhline(len(lam) / 20, color="k", ls="--", lw=1, label="uniform")
    b.legend(loc="lower right", fontsize=8)
    b.set_xlabel("(|λ|² - r_min²) / (r_max² - r_min²)")
    b.set_ylabel("modes")
    b.set_title("|λ|² is uniform on [r_min², r_max²]", fontsize=9)
    memory = 1 / np.maximum(1 - mod, 1e-12)
    c.hist(np.log10(memory), bins=20, color=course.COLORS["lru"])
    c.set_xlabel("memory 1/(1 - |λ|), log10 steps")
    c.set_ylabel("modes")
    c.set_title(f"{(mod > 0.99).mean():.1%} of the modes have |λ| > 0.99", fontsize=9)
    return fig


_ = Live(draw_ring, {"ring": course.ring_slider(0.9, 0.999), "max_phase": course.phase_slider()},
         presets={k: {"ring": v[:2], "max_phase": v[2]} for k, v in RINGS.items()})

# %% jupyter={"source_hidden": true}
# the answer's numbers, checked (click to expand)
frac = (0.999**2 - 0.99**2) / (0.999**2 - 0.9**2)
course.claims(
    "3.2's answer",
    ("0.99^2 = 0.980 and 0.999^2 = 0.998", (round(0.99**2, 3), round(0.999**2, 3)) == (0.980, 0.998),
     (0.99**2, 0.999**2)),
    ("the fraction above 0.99 is about 9.5%", round(frac, 3) == 0.095, f"{frac:.4f}"),
    ("this draw's fraction is within a few percent of it",
     abs(float((jnp.abs(ring_draw(0.9, 0.999, math.pi)) > 0.99).mean()) - frac) < 0.06,
     float((jnp.abs(ring_draw(0.9, 0.999, math.pi)) > 0.99).mean())),
)


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
# this layer's own 64 modes, with and without $\gamma$, and the ring formula (black). With
# the normalisation each mode's closed form is $1 - \lvert\lambda_j\rvert^{2k}$, so the
# LRU's line tends to exactly 1 (slow modes approach it only after about
# $1/(1 - \lvert\lambda_j\rvert^2)$ steps).
#
# **Predict, then press the buttons.** Order the paper's four rings by how much they would
# blow up the state without $\gamma$. Then: does a thin ring close to the circle (PathX) or a
# wide ring that reaches it (ListOps' $[0, 0.99]$) amplify more?
#
# <details><summary>Answer</summary>
#
# Text $[0.5, 0.9]$ (about 2.5x) < ListOps $[0, 0.99]$ (about 4x) < sCIFAR $[0.9, 0.999]$ (about
# 24x) < PathX $[0.999, 0.9999]$ (about 1280x); so the thin PathX ring amplifies more than 300
# times as much as ListOps' wide one. The factor is an average of $1/(1 - r^2)$
# over the ring: a wide ring is dominated by its many fast modes, a thin ring near the
# circle has only slow ones. The black line is the ring average; a layer with 64 modes
# samples it, and its few slowest modes pull its own curve above or below the line.
# </details>

# %%
N_VAR, SAMPLES = 64, 8
L_VAR = 1024 if SMALL else 16384
u_var = jax.random.normal(course.key(3), (SAMPLES, L_VAR))  # H = 1
B_var = (jax.random.normal(course.key(4), (N_VAR,))
         + 1j * jax.random.normal(course.key(5), (N_VAR,))) / math.sqrt(2)
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

# %% jupyter={"source_hidden": true}
# the answer's numbers, checked (click to expand)
factors = {name: signal.ring_variance(*ring[:2]) for name, ring in RINGS.items()}
said = {"Text, Retrieval": 2.5, "ListOps": 4, "sCIFAR, Pathfinder": 24, "PathX": 1280}
(_, c_plain, _, c_lru), _ = variances(0.9, 0.999)
course.claims(
    "3.3",
    *((f"{name}: about {x}x", abs(factors[name] / x - 1) < 0.05, f"{factors[name]:.4g}")
      for name, x in said.items()),
    ("the ring formula is the average of 1 / (1 - |λ|^2) over the ring",
     all(abs(factors[n] / course.ring_factor_reference(*RINGS[n][:2]) - 1) < 1e-3 for n in RINGS),
     factors),
    ("PathX amplifies more than 300 times as much as ListOps",
     factors["PathX"] > 300 * factors["ListOps"], factors["PathX"] / factors["ListOps"]),
    ("with gamma the closed form stays at or below 1 and ends near it",
     float(c_lru.max()) <= 1 + 1e-4 and float(c_lru[-1]) > 0.9, f"{float(c_lru[-1]):.4f}"),
)

# %% [markdown]
# How long does the state take to settle? Mode $j$ reaches a fraction $1 - \lvert\lambda_j
# \rvert^{2k}$ of its stationary variance after $k$ steps, so a mode at $r = 0.99999$ (the
# slider's end) needs about $1/(1 - r^2) \approx 50{,}000$ steps, more than the
# 16,384 shown. Whether the curves are still rising at the right edge depends on whether this
# layer's draw of 64 modes has a mode that close to the circle; the cell below answers for the
# ring $[0.9, 0.99999]$.

# %% jupyter={"source_hidden": true}
# computed for this draw (click to expand)
(_, c_wide, _, _), slowest = variances(0.9, course.r_of_digits(course.MAX_DIGITS))
slowest = float(slowest)
growth = float(c_wide[-1] / c_wide[L_VAR // 2 - 1]) - 1
course.answer(
    f"On the ring $[0.9, 0.99999]$ this draw's slowest mode has $\\lvert\\lambda\\rvert = "
    f"{slowest:.5f}$, which settles after about $1/(1 - \\lvert\\lambda\\rvert^2) = "
    f"{1 / (1 - slowest**2):,.0f}$ steps; between $k = {L_VAR // 2}$ and $k = {L_VAR}$ the "
    f"closed form without $\\gamma$ still grows by {growth:.1%}, so the curves "
    + ("are still rising at the right edge." if growth > 0.05 else
       "are flat at the right edge: the modes that would take longer are not in this draw "
       "(64 modes on a ring that wide put few within $10^{-4}$ of the circle).")
    + " The closed form tells you where they end.", summary="For this draw")
course.claims(
    "3.3's edge",
    ("a mode at r = 0.99999 needs about 50,000 steps", round(1 / (1 - 0.99999**2), -3) == 50000,
     1 / (1 - 0.99999**2)),
)

# %% [markdown]
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
# frequency up to $\pi$.) The paper uses $\theta_{\max} = \pi/10$ on PathX: with uniform
# phases its LRU fit the training set but did not generalise.
#
# In frequency, one mode $\lambda = r e^{i\theta}$ is a resonance. Its kernel $\lambda^k$ has
# the transfer function (a geometric series)
#
# $$
# \hat K_\lambda(\omega) = \sum_{k \ge 0} \lambda^k e^{-i\omega k} = \frac{1}{1 - \lambda e^{-i\omega}},
# \qquad
# \lvert \hat K_\lambda(\omega)\rvert^2 = \frac{1}{1 - 2r\cos(\omega - \theta) + r^2},
# $$
#
# a peak at $\omega = \theta$ of height $1/(1 - r)$ and half-power width about $2(1 - r)$: the
# phase says **where** in frequency a mode listens, the modulus **how narrowly**. A ring's
# kernel $K_k = \operatorname{Re}\sum_j c_j \gamma_j b_j \lambda_j^k$ is a sum of such peaks,
# one per mode, all between $0$ and $\theta_{\max}$. From scratch, for an LRU on the PathX ring:
# the kernel from its parameters, checked against lrux, and its spectrum from the formula,
# checked against the FFT (for $L$ lags the series stops: $\sum_{k<L} z^k = (1 - z^L)/(1 - z)$).

# %%
L_K = 8192  # also at small size: the answer's "below 0.01 rad/step" needs a fine FFT grid


def ring_kernel_from_scratch(p, length):
    """K_k = Re(sum_j c_j gamma_j b_j lambda_j^k), k < length, for a one-channel LRU p."""
    lam = jnp.exp(-jnp.exp(p.nu_log) + 1j * jnp.exp(p.theta_log))
    weight = (p.C_re + 1j * p.C_im)[0] * jnp.exp(p.gamma_log) * (p.B_re + 1j * p.B_im)[:, 0]
    return jnp.real(jnp.sum(weight * lam ** jnp.arange(length)[:, None], axis=1)), lam, weight


def kernel_spectrum(lam, weight, omega, length):
    """The DTFT of Re(sum_j w_j lam_j^k), k < length: half of w T(lam) + conj(w) T(conj lam)."""
    def finite(z):  # sum_{k < length} (z e^{-i omega})^k
        q = z[None, :] * np.exp(-1j * omega)[:, None]
        return (1 - q**length) / (1 - q)

    lam, weight = np.asarray(lam, np.complex128), np.asarray(weight, np.complex128)
    return 0.5 * (finite(lam) @ weight + finite(lam.conj()) @ weight.conj())


pathx = lrux.LRU(1, N_RING, r_min=0.999, r_max=0.9999, max_phase=math.pi / 10, key=course.key(6))
kern, lam_x, weight_x = ring_kernel_from_scratch(pathx, L_K)
assert jnp.allclose(kern, signal.kernel(pathx, L_K)[:, 0, 0], atol=1e-5)  # lrux's kernel
omega = np.fft.rfftfreq(L_K) * 2 * np.pi
fft = np.fft.rfft(np.asarray(kern, np.float64))
formula = kernel_spectrum(lam_x, weight_x, omega, L_K)
err = np.abs(fft - formula).max() / np.abs(formula).max()
print(f"kernel == signal.kernel; FFT == the transfer-function formula to {err:.1e}")
assert err < 1e-3

# %% [markdown]
# The figure shows the same for a ring you choose (the layer of section 3.2, $C$ and $B$
# random): the kernel, and its spectrum $\lvert\hat K(\omega)\rvert^2$ against the angular
# frequency $\omega$ in radians per step.
#
# **Predict, then move the sliders.** Press PathX, then move the max phase from $\pi/10$ to
# $2\pi$. Where does the spectrum end in each case, and what happens to the share of the
# kernel's energy at frequencies below $0.01$ rad/step (oscillations slower than 628 steps)?

# %%
C_K = (jax.random.normal(course.key(6), (N_RING,))
       + 1j * jax.random.normal(course.key(7), (N_RING,))) / math.sqrt(N_RING)
B_K = (jax.random.normal(course.key(8), (N_RING,))
       + 1j * jax.random.normal(course.key(9), (N_RING,))) / math.sqrt(2)
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

# %% jupyter={"source_hidden": true}
# the answer, computed for this draw (click to expand)
def slow_share(max_phase):
    _, power = (np.asarray(v) for v in ring_kernel(0.999, 0.9999, max_phase))
    above = power[OMEGA > min(max_phase, math.pi) * 1.1].sum() / power.sum()
    return power[OMEGA < 0.01].sum() / power.sum(), above


share_small, beyond_small = slow_share(math.pi / 10)
share_full, _ = slow_share(2 * math.pi)
course.answer(
    f"With $\\theta_{{\\max}} = \\pi/10$ the spectrum stops at $\\omega \\approx 0.31$ (the dashed "
    f"line; {beyond_small:.1e} of the energy lies beyond 1.1 times it), and {share_small:.0%} of "
    f"the energy sits below $0.01$ rad/step. With $2\\pi$ the spectrum fills $[0, \\pi]$ and "
    f"that share drops to {share_full:.1%}, {share_small / share_full:.0f} times less: the same "
    "modes now spread their energy over ten times the bandwidth. The title prints the share "
    "for the values used.")
course.claims(
    "3.4's answer",
    ("with pi/10 the spectrum stops near 0.31", beyond_small < 1e-2, f"{beyond_small:.1e} beyond"),
    ("with 2 pi the slow share drops by more than an order of magnitude",
     share_small > 10 * share_full, f"{share_small:.3f} -> {share_full:.4f}"),
    ("2 pi / 0.01 is about 628 steps", round(2 * math.pi / 0.01) == 628, 2 * math.pi / 0.01),
)

# %% [markdown]
# ### Exercise 6: the spectrum of one mode
#
# Write `mode_spectrum_yours(lam, omega)`: for one complex eigenvalue `lam` and an array of
# frequencies `omega` (rad/step) it returns $\lvert\hat K_\lambda(\omega)\rvert$, the magnitude
# of the transfer function of an infinitely long kernel $\lambda^k$. The check compares it
# with a float64 sum of the series for three modes. Then use it: at $\lvert\lambda\rvert =
# 0.999$, how far from $\theta$ has the peak fallen to half its power?

# %%
def mode_spectrum_yours(lam, omega):
    raise NotImplementedError  # your code here


course.check_mode_spectrum(mode_spectrum_yours)

# %% tags=["solution"] jupyter={"source_hidden": true}
mode_spectrum_solution = course.solution("mode_spectrum")
if mode_spectrum_solution:
    course.check_mode_spectrum(mode_spectrum_solution)

# %% jupyter={"source_hidden": true}
# the text's numbers about one mode's peak, checked (click to expand)
grid = np.linspace(-0.01, 0.01, 200001)  # omega - theta
peak = 1 / (1 - 2 * 0.999 * np.cos(grid) + 0.999**2)  # the display equation, r = 0.999
half = grid[peak >= peak.max() / 2]
course.claims(
    "3.4's equation",
    ("the peak of |K(omega)| is 1 / (1 - r), at omega = theta",
     abs(np.sqrt(peak.max()) * (1 - 0.999) - 1) < 1e-3 and abs(grid[peak.argmax()]) < 1e-6,
     (np.sqrt(peak.max()), grid[peak.argmax()])),
    ("its half-power width is about 2 (1 - r)", abs((half[-1] - half[0]) / (2 * 0.001) - 1) < 0.01,
     half[-1] - half[0]),
)

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
