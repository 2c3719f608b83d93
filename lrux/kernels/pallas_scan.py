"""Pallas kernels for diagonal linear recurrences: the GPU counterpart of `scan_cpu.cc`.

    forward:  h_t = a_t * h_{t-1} + b_t, h_{-1} = h0     (from the end when reverse)
    backward: adj_t = g_t + conj(lambda) adj_{t+1},  dlambda = sum_t adj_t conj(h_{t-1}),
              dh0 = conj(lambda) adj_0                (the LRU's [Re | Im] pairs, fused)

Arrays are "pairs": (seq, P, n) with P = 2 for complex values ([Re, Im] planes) and P = 1
for real ones; a is constant (P, n) or time-varying (seq, P, n). One program runs one
sequence and one block of the state (vmap adds the batch to the grid); it walks the
sequence in chunks of `CHUNK` steps (unrolled) with the state in registers, loading the
next chunk while it computes the current one, so a chunk's loads wait on memory once.

On GPU the kernels compile through Pallas' Triton backend. Elsewhere they run in Pallas'
interpret mode (slow: for tests). Their speed on a GPU is not measured yet, so
``mode="auto"`` never picks them; ``mode="pallas"`` asks for them.
"""

import functools
from typing import cast

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu
from jaxtyping import Array, Float

CHUNK = 16  # steps per chunk on GPU: loads in flight per state element
INTERPRET_CHUNK = 2  # the same code with a short unroll, for interpret mode's compile time
MAX_BLOCK = 32  # state elements per program (one warp)


def _interpret() -> bool:
    return jax.default_backend() != "gpu"


def chunk_steps() -> int:
    """Steps per chunk of the sequence walk: CHUNK compiled, INTERPRET_CHUNK interpreted."""
    return INTERPRET_CHUNK if _interpret() else CHUNK


def _compiler_params():
    """One warp per program: a block of MAX_BLOCK states is one element per thread."""
    return plgpu.CompilerParams(num_warps=1, num_stages=1)


def _block(n: int) -> int:
    """The largest power of two <= MAX_BLOCK that divides n (Triton loads powers of 2)."""
    return min(MAX_BLOCK, n & -n)


def _mul(a: tuple[Array, ...], h: tuple[Array, ...], conj: bool = False) -> tuple[Array, ...]:
    """a * h (or conj(a) * h) on tuples of planes: (x,) real, (re, im) complex."""
    if len(a) == 1:
        return (a[0] * h[0],)
    ar, ai = a
    if conj:
        ai = -ai
    return (ar * h[0] - ai * h[1], ar * h[1] + ai * h[0])


def _walk(length, reverse, load, update, state):
    """Run update(t, loaded, state) -> state for s = 0..length-1 (t = s, or length-1-s),
    CHUNK steps at a time with the next chunk's loads issued first, then the remainder."""
    chunk = chunk_steps()
    n_chunks = length // chunk
    time = (lambda s: length - 1 - s) if reverse else (lambda s: s)

    def chunk_loads(c):
        return tuple(load(time(c * chunk + k)) for k in range(chunk))

    def body(c, carry):
        state, current = carry
        following = chunk_loads(jnp.minimum(c + 1, n_chunks - 1))
        for k in range(chunk):
            state = update(time(c * chunk + k), current[k], state)
        return state, following

    if n_chunks:
        state, _ = jax.lax.fori_loop(0, n_chunks, body, (state, chunk_loads(0)))

    def single(s, state):
        t = time(s)
        return update(t, load(t), state)

    return jax.lax.fori_loop(n_chunks * chunk, length, single, state)


def _forward_kernel(a_ref, h0_ref, b_ref, h_ref, *, length, varies, reverse):
    planes = range(b_ref.shape[1])
    const_a = None if varies else tuple(a_ref[p] for p in planes)

    def load(t):
        b = tuple(b_ref[t, p] for p in planes)
        return (tuple(a_ref[t, p] for p in planes), b) if varies else (const_a, b)

    def update(t, loaded, h):
        a, b = loaded
        h = tuple(x + y for x, y in zip(_mul(a, h), b, strict=True))
        for p in planes:
            h_ref[t, p] = h[p]
        return h

    _walk(length, reverse, load, update, tuple(h0_ref[p] for p in planes))


def _specs(length, planes, n, block, varies):
    seq = pl.BlockSpec((length, planes, block), lambda j: (0, 0, j))
    vec = pl.BlockSpec((planes, block), lambda j: (0, j))
    return (seq if varies else vec), vec, seq


def pallas_forward(
    a: Float[Array, "*a_shape"],
    b: Float[Array, "seq planes n"],
    h0: Float[Array, "planes n"],
    *,
    reverse: bool = False,
) -> Float[Array, "seq planes n"]:
    """h_t = a_t * h_{t-1} + b_t on pairs (P = 1 real, P = 2 complex [Re, Im] planes); a is
    (P, n) or (seq, P, n); one dtype for all. Not differentiable by itself (the scan's
    custom VJPs call it for the adjoint too)."""
    length, planes, n = b.shape
    varies = a.ndim == 3
    block = _block(n)
    a_spec, h0_spec, seq_spec = _specs(length, planes, n, block, varies)
    kernel = functools.partial(_forward_kernel, length=length, varies=varies, reverse=reverse)
    return pl.pallas_call(
        kernel,
        out_shape=jax.ShapeDtypeStruct(b.shape, b.dtype),
        grid=(n // block,),
        in_specs=[a_spec, h0_spec, seq_spec],
        out_specs=seq_spec,
        interpret=_interpret(),
        compiler_params=_compiler_params(),
        name="lrux_scan_forward",
    )(a, h0, b)


def _backward_kernel(lam_ref, h0_ref, h_ref, g_ref, adj_ref, dlam_ref, dh0_ref, *, length,
                     reverse):
    lam = (lam_ref[0], lam_ref[1])
    h0 = (h0_ref[0], h0_ref[1])
    acc = jnp.float64 if h_ref.dtype == jnp.float64 else jnp.float32

    def load(t):
        # the adjoint at t pairs with the forward's previous state (h0 at its first step)
        prev = t + 1 if reverse else t - 1
        inside = (prev >= 0) & (prev < length)
        safe = jnp.clip(prev, 0, length - 1)
        hp = tuple(jnp.where(inside, h_ref[safe, p], h0[p]) for p in range(2))
        return (g_ref[t, 0], g_ref[t, 1]), hp

    def update(t, loaded, carry):
        adj, (sum_re, sum_im) = carry
        g, hp = loaded
        adj = tuple(x + y for x, y in zip(_mul(lam, adj, conj=True), g, strict=True))
        adj_ref[t, 0], adj_ref[t, 1] = adj
        ar, ai = (x.astype(acc) for x in adj)
        pr, pi = (x.astype(acc) for x in hp)
        return adj, (sum_re + ar * pr + ai * pi, sum_im + ai * pr - ar * pi)

    zero = jnp.zeros_like(lam[0])
    sums = (zero.astype(acc), zero.astype(acc))
    adj, (sum_re, sum_im) = _walk(length, not reverse, load, update, ((zero, zero), sums))
    dlam_ref[0], dlam_ref[1] = sum_re.astype(dlam_ref.dtype), sum_im.astype(dlam_ref.dtype)
    dh0_ref[0], dh0_ref[1] = _mul(lam, adj, conj=True)


def pallas_complex_backward(lam, h0, h, g, *, reverse=False):
    """The fused adjoint of `pallas_forward` for constant complex lambda (P = 2):
    (adj, dlambda, dh0), dlambda as [Re, Im] planes (JAX's convention: the gradient of a
    real loss with respect to (Re, Im))."""
    length, planes, n = h.shape
    block = _block(n)
    _, vec, seq = _specs(length, planes, n, block, False)
    kernel = functools.partial(_backward_kernel, length=length, reverse=reverse)
    vec_out = jax.ShapeDtypeStruct(lam.shape, lam.dtype)
    return pl.pallas_call(
        kernel,
        out_shape=(jax.ShapeDtypeStruct(h.shape, h.dtype), vec_out, vec_out),
        grid=(n // block,),
        in_specs=[vec, vec, seq, seq],
        out_specs=(seq, vec, vec),
        interpret=_interpret(),
        compiler_params=_compiler_params(),
        name="lrux_scan_backward",
    )(lam, h0, h, g)


# --- The LRU family's [Re | Im] scan, with its custom VJP --------------------------------


def pallas_complex_scan(
    lam_re: Float[Array, " n"],
    lam_im: Float[Array, " n"],
    b: Float[Array, "seq two_n"],
    *,
    reverse: bool = False,
) -> Float[Array, "seq two_n"]:
    """`lrux.scan.complex_scan_stacked` (zero initial state) as Pallas kernels: one pass
    forward, one fused pass backward (the adjoint and the gradient of lambda)."""
    lam = jnp.stack([lam_re, lam_im]).astype(b.dtype)
    length, n = b.shape[0], lam_re.shape[0]
    # cast: jax.custom_vjp applied through functools.partial loses the return type
    h = cast(Array, _complex_scan(lam, b.reshape(length, 2, n), bool(reverse)))
    return h.reshape(length, 2 * n)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _complex_scan(lam: Array, b: Array, reverse: bool) -> Array:
    return pallas_forward(lam, b, jnp.zeros_like(lam), reverse=reverse)


def _complex_scan_fwd(lam, b, reverse):
    h = _complex_scan(lam, b, reverse)
    return h, (lam, h)


def _complex_scan_bwd(reverse, residuals, g):
    lam, h = residuals
    adj, dlam, _ = pallas_complex_backward(lam, jnp.zeros_like(lam), h, g, reverse=reverse)
    return dlam, adj


_complex_scan.defvjp(_complex_scan_fwd, _complex_scan_bwd)


def pallas_linear_forward(a: Array, b: Array, h0: Array, *, reverse: bool = False) -> Array:
    """`linear_scan`'s forward (b (seq, *state), a (*state) or (seq, *state), h0 (*state),
    one dtype, real or complex) on the Pallas kernel; lrux.scan's custom VJP differentiates
    it (its adjoint is this kernel run the other way)."""
    length = b.shape[0]
    complex_ = jnp.iscomplexobj(b)

    def pairs(x, lead):
        x = x.reshape(*lead, -1)
        if complex_:
            return jnp.stack([x.real, x.imag], axis=len(lead))
        return x[..., None, :] if lead else x[None]

    a_p = pairs(a, (length,) if a.ndim == b.ndim else ())
    h = pallas_forward(a_p, pairs(b, (length,)), pairs(h0, ()), reverse=reverse)
    h = jax.lax.complex(h[:, 0], h[:, 1]) if complex_ else h[:, 0]
    return h.reshape(b.shape)
