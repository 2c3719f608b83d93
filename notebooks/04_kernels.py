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
# # 4. Kernels: S4D-Lin is a ring in disguise, and what a linear RNN can learn
#
# The LRU was built by climbing down from the RNN side; the state-space models (S4, S4D, S5)
# came from the other side, by discretising a continuous-time system
# $\dot x(t) = A x(t) + B u(t)$. The paper shows that the two meet: after discretisation, a
# diagonal SSM is a diagonal linear RNN, and its standard initialisation puts the eigenvalues
# on a thin ring near the unit circle with small phases, the LRU's ring init. Then a toy
# problem from the paper: a linear RNN learns a convolution kernel that a tanh RNN of the
# same size does not.

# %%
import math

import course
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from course import SMALL, Live

import lrux
from lrux import signal

# %% [markdown]
# ## 4.1 S4D-Lin after zero-order hold
#
# S4D-Lin (Gu et al. 2022) gives each channel $M = N/2$ complex modes with continuous-time
# eigenvalues $A_n = -\tfrac12 + i \pi n$, $n = 0, \dots, M - 1$, and $B_n = 1$. Holding the
# input constant over a step $\Delta$ (zero-order hold) gives the discrete recurrence
# $x_k = \bar A x_{k-1} + \bar B u_k$ with
#
# $$
# \bar A_n = e^{\Delta A_n}, \qquad \bar B_n = \frac{e^{\Delta A_n} - 1}{A_n} B_n, \qquad
# \lvert\bar A_n\rvert = e^{-\Delta/2}, \qquad \arg \bar A_n = \pi n \Delta .
# $$
#
# So every mode has the **same modulus** $e^{-\Delta/2}$ and the phases are evenly spaced on
# $[0, \pi (M - 1)\Delta]$. With $\Delta = 10^{-3}$ and $M = 128$: $\lvert\lambda\rvert =
# 0.9995$ and phases in $[0, 0.40] \approx [0, \pi/8]$, which is what the LRU's ring init
# with $r_{\min} = r_{\max} = 0.9995$ and $\theta_{\max} = \pi/8$ draws at random. From
# scratch, against lrux's `S4D`:

# %%
M = 128  # complex modes per channel (d_state = 2 M in lrux)
A_LIN = -0.5 + 1j * math.pi * jnp.arange(M)


def s4d_lin_zoh(dt):
    lbar = jnp.exp(dt * A_LIN)
    return lbar, (lbar - 1) / A_LIN  # (Abar, Bbar) with B = 1


dt = 1e-3
s4d = lrux.make_mixer("s4d", 1, 2 * M, dt_min=dt, dt_max=dt, key=jax.random.key(1))
lbar, bbar = s4d_lin_zoh(dt)
lbar_lrux, bbar_lrux = s4d.discrete()
assert jnp.allclose(lbar, lbar_lrux[0], atol=1e-6) and jnp.allclose(bbar, bbar_lrux[0], atol=1e-6)
r, phase = math.exp(-dt / 2), math.pi * (M - 1) * dt  # the matching LRU ring:
ring = lrux.LRU(1, M, r_min=r, r_max=r, max_phase=phase, key=jax.random.key(0))
assert jnp.allclose(jnp.abs(ring.eigenvalues()), r, atol=1e-6)
assert float(jnp.angle(ring.eigenvalues()).max()) <= phase + 1e-6
print(f"dt = {dt}: |lambda| in [{float(jnp.abs(lbar).min()):.5f}, {float(jnp.abs(lbar).max()):.5f}],"
      f" phase in [0, {float(jnp.angle(lbar).max()):.3f}] (pi/8 = {math.pi / 8:.3f})")

# %% [markdown]
# **The input factor plays $\gamma$'s role.** For small $\Delta$, $\bar B_n \approx \Delta
# B_n$, which shrinks the input as $\lvert\bar A_n\rvert \to 1$, like $\gamma =
# \sqrt{1 - \lvert\lambda\rvert^2}$ does in the LRU. They shrink at different rates:
# $\Delta \approx 1 - \lvert\lambda\rvert^2$ against its square root, so S4D-Lin's state
# variance at init is about $\lVert B\rVert^2 \Delta^2 / (1 - \lvert\lambda\rvert^2) \approx
# \Delta$ where the LRU's is $\lVert B\rVert^2$: both stay bounded as the memory grows,
# which is what Prop. 3 asks for (notebook 3).
#
# ### The ring, side by side
#
# The figure puts S4D-Lin's eigenvalues at step $\Delta$ next to an LRU ring with the same
# radius $r = e^{-\Delta/2}$ and the same phase range $\theta_{\max} = \min(\pi (M-1)\Delta,
# 2\pi)$. Because at $\Delta = 10^{-3}$ all these points are within $10^{-3}$ of the circle, the left panel
# "unrolls" the ring: phase on the x axis, distance to the circle $1 - \lvert\lambda\rvert$ on
# a log y axis. The right panel compares the two kernels' spectra (one channel, random $C$).
#
# **Predict, then move the slider.** As $\Delta$ grows from $10^{-4}$ to $10^{-1}$: which way
# does the ring move, what happens to the phase range, and what happens once
# $\pi (M - 1) \Delta$ passes $2\pi$ ($\Delta \approx 0.016$)?
#
# <details><summary>Answer</summary>
#
# $1 - \lvert\lambda\rvert \approx \Delta/2$ grows: the ring moves away from the circle
# (shorter memory). The phase range $\pi(M-1)\Delta$ grows with it: a larger step is a
# wider band of frequencies. Past $2\pi$ the evenly spaced phases wrap around the circle: they
# then cover all angles (and, for a real kernel, every frequency up to $\pi$), and the
# matched LRU ring is the full ring $\theta_{\max} = 2\pi$; the title says when this happens.
# </details>

# %%
KLEN = 1024 if SMALL else 8192
C_S4D = (jax.random.normal(jax.random.key(2), (M,)) + 1j * jax.random.normal(jax.random.key(3), (M,)))
U1, U2 = jax.random.uniform(jax.random.key(4), (2, M))
OMEGA = np.fft.rfftfreq(KLEN) * 2 * np.pi


@jax.jit
def s4d_vs_ring(dt):
    lbar, bbar = s4d_lin_zoh(dt)
    r, phase = jnp.exp(-dt / 2), jnp.minimum(math.pi * (M - 1) * dt, 2 * math.pi)
    log_lam = -dt / 2 + 1j * phase * U2  # the matched LRU ring (thin: r_min = r_max = r)
    gamma = jnp.sqrt(1 - r**2)
    k = jnp.arange(KLEN)[:, None]
    k_s4d = 2 * jnp.real(jnp.sum(C_S4D * bbar * jnp.exp(k * dt * A_LIN), axis=1))  # Abar^k
    k_lru = jnp.real(jnp.sum(C_S4D * gamma * jnp.exp(k * log_lam), axis=1))  # lambda^k
    lam = jnp.exp(log_lam)
    spectrum = lambda x: jnp.abs(jnp.fft.rfft(x)) / jnp.abs(jnp.fft.rfft(x)).max()  # noqa: E731
    return lbar, lam, spectrum(k_s4d), spectrum(k_lru), phase


# %% jupyter={"source_hidden": true}
# the figure: plotting code (click to expand)
def draw_s4d(dt):
    lbar, lam, s_s4d, s_lru, phase = (np.asarray(v) for v in s4d_vs_ring(dt))
    wraps = math.pi * (M - 1) * dt > 2 * math.pi
    fig, (a, b) = course.figure(2, width=12.5, height=4)
    a.semilogy(np.mod(np.angle(lbar), 2 * np.pi), 1 - np.abs(lbar), "o", ms=4, mfc="none",
               color=course.COLORS["s4d"], label="S4D-Lin (ZOH)")
    a.semilogy(np.mod(np.angle(lam), 2 * np.pi), 1 - np.abs(lam), "x", ms=4,
               color=course.COLORS["lru"], label="LRU ring, same r and phase range")
    a.set_xlim(-0.1, 2 * np.pi + 0.1)
    a.set_ylim(1e-5, 1)
    a.set_xlabel("phase arg λ (rad)")
    a.set_ylabel("1 - |λ| (log)")
    a.legend(loc="upper right", fontsize=8)
    a.set_title(f"Δ = {dt:.2e}: r = {math.exp(-dt / 2):.5f}, phases 0 ... "
                f"{math.pi * (M - 1) * dt:.3g} rad" + ("  (wrap: > 2π)" if wraps else ""),
                fontsize=9.5)
    b.semilogy(OMEGA, s_s4d + 1e-12, color=course.COLORS["s4d"], lw=0.8, label="S4D-Lin")
    b.semilogy(OMEGA, s_lru + 1e-12, color=course.COLORS["lru"], lw=0.8, alpha=0.8,
               label="LRU ring")
    b.axvline(min(phase, math.pi), color="k", ls="--", lw=1,
              label=f"min(phase range, π) = {min(phase, math.pi):.2f}")
    b.set_ylim(1e-6, 2)
    b.set_xlabel("angular frequency ω (rad/step)")
    b.set_ylabel("|K̂(ω)|, normalised")
    b.set_title(f"kernel spectra over {KLEN} lags; matched ring max phase {phase:.3g} rad",
                fontsize=9.5)
    b.legend(loc="upper right", fontsize=8)
    return fig


_ = Live(draw_s4d, {"dt": course.float_slider(1e-3, -4, -1, 0.05, "step Δ", log=True,
                                              tries=[1e-4, 0.03])})

# %% [markdown]
# The two are not the same layer: S4D-Lin's phases are a regular grid and its input factor is
# $\bar B \approx \Delta$, the LRU's phases are random and its factor is $\gamma$. But the
# thing that decides what the layer can remember, where the eigenvalues sit, is the same:
# a thin ring at distance $\approx \Delta/2$ from the circle with a phase range that grows with
# $\Delta$. S4D samples $\Delta$ log-uniformly in $[10^{-3}, 10^{-1}]$ per channel: a set of
# such rings, from $r = 0.95$ to $r = 0.9995$.
#
# ### Exercise 6: which step is sCIFAR's outer ring?
#
# Find the step $\Delta$ at which S4D-Lin's eigenvalues have modulus $0.999$, the $r_{\max}$
# of the paper's sCIFAR ring. Set `dt_yours` and run the check.

# %%
dt_yours = None  # your answer
course.check_dt_for_radius(dt_yours)

# %% tags=["solution"] jupyter={"source_hidden": true}
dt_solution = course.solution("dt_for_radius")
if dt_solution:
    course.check_dt_for_radius(dt_solution())

# %% [markdown]
# ## 4.2 The kernel toy: a linear RNN learns what a tanh RNN cannot
#
# The paper's toy: learn the length-100 convolution kernel
#
# $$
# h_k = 0.1\, e^{-0.015 k} \cos^2(0.04 k), \qquad k = 0, \dots, 99,
# $$
#
# that is, map white noise $u$ to $y = h * u$ ($y_t = \sum_{k} h_k u_{t-k}$). Since
# $\cos^2(0.04k) = \tfrac12 + \tfrac12\cos(0.08k)$, the kernel is a sum of three decaying
# modes with eigenvalues $e^{-0.015}$ and $e^{-0.015 \pm 0.08 i}$: a linear RNN represents it
# exactly with three modes, and the question is whether training finds them. We train two
# layers with the same amount of state, 64 real numbers: an LRU with 32 complex modes (ring
# $[0.9, 0.999]$) and a tanh RNN with 64 units, both `d_model = 1`, with Adam on the mean
# squared error over sequences of 200 steps.

# %%
K_LEN, SEQ = 100, 200
STEPS = 30 if SMALL else 1000
BATCH, LR = 32, 1e-2
H_TARGET = 0.1 * jnp.exp(-0.015 * jnp.arange(K_LEN)) * jnp.cos(0.04 * jnp.arange(K_LEN)) ** 2


def target(u):
    """y = h * u for a batch of white-noise sequences u (B, SEQ)."""
    return jax.vmap(lambda x: jnp.convolve(x, H_TARGET)[:SEQ])(u)


def train(layer, steps, *, snapshot_every=25):
    """Adam on E (layer(u) - h * u)^2; returns the trained layer, losses and kernel snapshots."""
    params, static = eqx.partition(layer, eqx.is_inexact_array)
    tx = optax.adam(LR)

    def loss_fn(p, u):
        y = jax.vmap(eqx.combine(p, static))(u[..., None])[..., 0]
        return jnp.mean((y - target(u)) ** 2)

    @jax.jit
    def step(p, opt, key):
        loss, grad = jax.value_and_grad(loss_fn)(p, jax.random.normal(key, (BATCH, SEQ)))
        updates, opt = tx.update(grad, opt, p)
        return optax.apply_updates(p, updates), opt, loss

    impulse = jax.jit(lambda p: signal.impulse_response(eqx.combine(p, static), K_LEN)[:, 0, 0])
    opt, losses, snaps = tx.init(params), [], [np.asarray(impulse(params))]
    for i in range(steps):
        params, opt, loss = step(params, opt, jax.random.fold_in(jax.random.key(99), i))
        losses.append(float(loss))
        if (i + 1) % snapshot_every == 0 or i + 1 == steps:
            snaps.append(np.asarray(impulse(params)))
    return eqx.combine(params, static), np.array(losses), np.array(snaps)


models = {
    "lru": lrux.make_mixer("lru", 1, 32, r_min=0.9, r_max=0.999, key=jax.random.key(0)),
    "rnn-tanh": lrux.make_mixer("rnn-tanh", 1, 64, key=jax.random.key(0)),
}
runs = {name: train(layer, STEPS) for name, layer in models.items()}
target_var = float(jnp.mean(target(jax.random.normal(jax.random.key(5), (256, SEQ))) ** 2))
for name, (layer, losses, snaps) in runs.items():
    err = np.sqrt(np.mean((snaps[-1] - np.asarray(H_TARGET)) ** 2) / np.mean(np.asarray(H_TARGET) ** 2))
    n_params = sum(v.size for v in jax.tree_util.tree_leaves(eqx.filter(layer, eqx.is_array)))
    print(f"{name:9s} {n_params:5d} parameters: final loss {losses[-20:].mean():.2e} "
          f"(= {losses[-20:].mean() / target_var:.1%} of E y^2); impulse response vs h: "
          f"relative error {err:.1%}")

# %% [markdown]
# The impulse response is what each trained layer outputs for a unit impulse
# (`lrux.signal.impulse_response`; for the LRU this is its kernel plus $D$ at lag 0, for the
# tanh RNN the response of a nonlinear system to an input of size 1, the size of a typical
# input here). Move the slider to replay training.
#
# **Predict, then move the slider.** Will the tanh RNN's response ever show the bump of
# $\cos^2$ near lag 80? And the LRU: does it approach $h$ gradually, or after a plateau?
#
# <details><summary>Answer</summary>
#
# In this run the tanh RNN's response never follows $h$: it oscillates around it with a large
# error at every snapshot, and its loss stays on a plateau (right panel). A tanh RNN with 64
# units (and 4,225 parameters, 19 times the LRU's 225) cannot keep its units in the linear
# range of $\tanh$ while carrying 100 steps of input. The LRU also sits on a plateau for
# most of the run, then its loss falls by two orders of magnitude within about a hundred
# steps, when its slow modes settle on the target's decay and frequency; from then on its
# response lies on $h$ (the relative error is printed above).
# </details>

# %%
SNAP_STEPS = [0] + [min(25 * (i + 1), STEPS) for i in range(len(runs["lru"][2]) - 1)]


# %% jupyter={"source_hidden": true}
# the figure: plotting code (click to expand)
def draw_toy(snapshot):
    i = SNAP_STEPS.index(snapshot)
    fig, (a, b) = course.figure(2, widths=[1.4, 1], width=12, height=4)
    a.plot(np.asarray(H_TARGET), lw=4, alpha=0.35, **course.label("target"))
    for name, (_, losses, snaps) in runs.items():
        a.plot(snaps[i], lw=1.3, **course.label(name))
        b.semilogy(np.arange(1, len(losses) + 1), losses, lw=1, **course.label(name))
    a.set_ylim(-0.15, 0.2)
    a.set_xlabel("lag k (steps)")
    a.set_ylabel("impulse response")
    a.set_title(f"h_k = 0.1 exp(-0.015 k) cos²(0.04 k), after {snapshot} Adam steps",
                fontsize=10)
    a.legend(loc="upper right", fontsize=8)
    b.axvline(max(snapshot, 1), color="0.5", lw=1)
    b.axhline(target_var, color="k", ls=":", lw=1, label="E y² (predicting 0)")
    b.set_xlabel("Adam step")
    b.set_ylabel("training loss (MSE)")
    b.legend(loc="upper right", fontsize=8)
    return fig


_ = Live(draw_toy, {"snapshot": course.choice_slider(SNAP_STEPS, SNAP_STEPS[-1],
                                                     "training step")})

# %% [markdown]
# ## What we have
#
# - A diagonal SSM after discretisation is a diagonal linear RNN; S4D-Lin's init is a thin
#   ring at $1 - \lvert\lambda\rvert \approx \Delta/2$ with phases up to $\pi (M-1) \Delta$,
#   and its $\bar B \approx \Delta$ normalises the input as $\gamma$ does.
# - A linear recurrence learns a long kernel that is a sum of a few decaying modes; a tanh
#   RNN of the same state size does not, in this run, at any step of training.
#
# The last notebook puts every rung of the paper's ladder into the same deep model and
# trains it on one long-memory task.
#
# **Next:** [5. The ladder](05_the_ladder.ipynb).
