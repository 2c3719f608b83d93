"""Diagonal linear recurrences h_t = a_t * h_{t-1} + b_t: lrux's two scan engines.

`linear_scan` (real or complex values; S5 and the RG-LRU) and `complex_scan_stacked` (the same
recurrence on `[Re | Im]` pairs: the LRU and the diagonal rungs of the ladder).
Modes (all give the same values):

- ``"sequential"``: one `lax.scan` step per time step.
- ``"parallel"``: `lax.associative_scan` over pairs (a, b) with
  (a_i, b_i) . (a_j, b_j) = (a_j a_i, a_j b_i + b_j) (paper section 1), log-depth.
- ``"chunked"``: the sequence is cut into C chunks of T steps; a sequential scan over the T
  positions runs all chunks at once, a sequential scan over the C chunk ends carries the
  state across chunks, and one elementwise fix-up adds it back: T + C sequential steps
  instead of L, with no extra work. The fastest XLA-only mode on CPU.
- ``"native"``: (CPU only) a fused C++ kernel called through XLA's FFI (`lrux.kernels`),
  compiled on first use: one pass over memory forward, one backward, run per device on its
  shard of a sharded batch. The fastest on CPU.
- ``"pallas"``: Pallas kernels (`lrux.kernels.pallas_scan`), compiled for GPUs, in Pallas'
  interpret mode elsewhere (slow: for tests). Not measured on a GPU yet, so only on request.
- ``"auto"``: chooses per backend and length (see `resolve_mode`).

The gradient is a custom VJP: the adjoint of a linear recurrence is the same recurrence run
in the opposite direction, lambda_t = g_t + a_{t+1} lambda_{t+1}, so the backward pass is
one more scan instead of differentiating through the associative scan's levels.
"""

import functools
import math
from typing import Literal, cast

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Inexact

ScanMode = Literal["auto", "parallel", "sequential", "chunked", "native", "pallas"]
SCAN_MODES: tuple[str, ...] = ("auto", "parallel", "sequential", "chunked", "native", "pallas")

# On GPU/TPU the log-depth scan wins; on CPU the native kernel (where it exists and builds),
# else the chunked scan (few sequential steps, no redundant work). Short sequences are
# cheapest with a plain sequential scan.
_SHORT = 64


def resolve_mode(mode: str, length: int, backend: str | None = None) -> ScanMode:
    """The concrete mode that ``mode`` stands for at this sequence length and backend.

    "auto" picks the native kernel on CPU when it builds, with any number of devices: under
    a mesh each device runs it on its shard of the batch (`lrux.kernels.sharded`).
    """
    if mode not in SCAN_MODES:
        raise ValueError(f"scan mode must be one of {SCAN_MODES}, got {mode!r}")
    backend = backend or jax.default_backend()
    if mode == "native":
        if backend != "cpu":
            raise ValueError(f"scan mode 'native' runs on the CPU only, backend is {backend!r}")
        return mode
    if mode == "pallas" and backend not in ("cpu", "gpu"):
        raise ValueError(
            f"scan mode 'pallas' runs on GPUs (on CPU interpreted), backend is {backend!r}"
        )
    if mode != "auto":
        return cast(ScanMode, mode)  # one of SCAN_MODES, checked above
    if backend == "cpu":
        from lrux.kernels import native_available

        if native_available():
            return "native"
    if length <= _SHORT:
        return "sequential"
    return "chunked" if backend == "cpu" else "parallel"


def default_chunk_size(length: int) -> int:
    """A power of two near sqrt(length): balances the two sequential scans of "chunked"."""
    return max(1, 2 ** round(math.log2(max(1.0, math.sqrt(length)))))


def linear_scan(
    a: Inexact[Array, "..."],
    b: Inexact[Array, "seq *state"],
    h0: Inexact[Array, "*state"] | None = None,
    *,
    reverse: bool = False,
    mode: ScanMode = "auto",
    chunk_size: int | None = None,
) -> Inexact[Array, "seq *state"]:
    """Compute h_t = a_t * h_{t-1} + b_t along axis 0 (elementwise over the state axes).

    Args:
        a: the decay, constant ``(*state)`` or time-varying ``(seq, *state)``; real or complex.
        b: the inputs ``(seq, *state)``; real or complex.
        h0: the state before the first step ``(*state)``; zeros when None.
        reverse: run from the end, h_t = a_t * h_{t+1} + b_t (h0 is the state after the end).
        mode: "auto", "parallel", "sequential", "chunked", "native" (CPU only) or "pallas".
        chunk_size: steps per chunk for "chunked" (default: a power of two near sqrt(seq)).

    Returns:
        h ``(seq, *state)`` in the promoted dtype of a, b and h0.
    """
    if b.ndim < 1:
        raise ValueError(f"b must have a sequence axis 0, got shape {b.shape}")
    state_shape = b.shape[1:]
    if a.shape not in (state_shape, b.shape):
        raise ValueError(
            f"a must have shape {state_shape} (constant) or {b.shape} (time-varying), got {a.shape}"
        )
    if h0 is not None and h0.shape != state_shape:
        raise ValueError(f"h0 must have shape {state_shape}, got {h0.shape}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    dtype = jnp.result_type(a, b) if h0 is None else jnp.result_type(a, b, h0)
    if h0 is None:
        h0 = jnp.zeros(state_shape, dtype)
    length = b.shape[0]
    if length == 0:
        return jnp.zeros(b.shape, dtype)
    mode = resolve_mode(mode, length)
    if mode == "native":
        from lrux.kernels import native_linear_scan

        return native_linear_scan(
            a.astype(dtype), b.astype(dtype), h0.astype(dtype), reverse=reverse
        )
    chunk = chunk_size or default_chunk_size(length)
    return _linear_scan(a, b.astype(dtype), h0.astype(dtype), reverse, mode, chunk)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def _linear_scan(a, b, h0, reverse, mode, chunk):
    return _scan_impl(a, b, h0, reverse, mode, chunk)


def _linear_scan_fwd(a, b, h0, reverse, mode, chunk):
    h = _scan_impl(a, b, h0, reverse, mode, chunk)
    return h, (a, h, h0)


def _linear_scan_bwd(reverse, mode, chunk, residuals, g):
    a, h, h0 = residuals
    time_varying = a.ndim == h.ndim
    ones = lambda: jnp.ones((1,) + a.shape[1:], a.dtype)
    if not reverse:
        # lambda_t = g_t + a_{t+1} lambda_{t+1}: a reversed scan with a shifted one step.
        a_adj = jnp.concatenate([a[1:], ones()]) if time_varying else a
        h_prev = jnp.concatenate([h0[None], h[:-1]])
        a_first = a[0] if time_varying else a
        lam = _scan_impl(a_adj, g, jnp.zeros_like(h0), True, mode, chunk)
        grad_h0 = a_first * lam[0]
    else:
        a_adj = jnp.concatenate([ones(), a[:-1]]) if time_varying else a
        h_prev = jnp.concatenate([h[1:], h0[None]])
        a_last = a[-1] if time_varying else a
        lam = _scan_impl(a_adj, g, jnp.zeros_like(h0), False, mode, chunk)
        grad_h0 = a_last * lam[-1]
    grad_a = lam * h_prev
    if not time_varying:
        grad_a = grad_a.sum(axis=0)
    return _like(grad_a, a), _like(lam, h), _like(grad_h0, h0)


def _like(cotangent, primal):
    """Cast a cotangent to its primal's dtype (the real part for a real primal)."""
    if jnp.iscomplexobj(cotangent) and not jnp.iscomplexobj(primal):
        cotangent = cotangent.real
    return cotangent.astype(primal.dtype)


_linear_scan.defvjp(_linear_scan_fwd, _linear_scan_bwd)


def _scan_impl(a, b, h0, reverse, mode, chunk):
    """Forward computation of any mode; reverse flips, scans forwards and flips back."""
    if mode == "pallas":
        from lrux.kernels.pallas_scan import pallas_linear_forward

        return pallas_linear_forward(a.astype(b.dtype), b, h0, reverse=reverse)
    if reverse:
        a_f = jnp.flip(a, 0) if a.ndim == b.ndim else a
        return jnp.flip(_scan_forward(a_f, jnp.flip(b, 0), h0, mode, chunk), 0)
    return _scan_forward(a, b, h0, mode, chunk)


def _scan_forward(a, b, h0, mode, chunk):
    if mode == "sequential":
        return _sequential(a, b, h0)
    if mode == "parallel":
        return _parallel(a, b, h0)
    if mode == "chunked":
        return _chunked(a, b, h0, chunk)
    raise ValueError(f"unresolved scan mode {mode!r}")


def _sequential(a, b, h0):
    if a.ndim == b.ndim:

        def step(h, ab):
            h = ab[0] * h + ab[1]
            return h, h

        return jax.lax.scan(step, h0, (a, b))[1]

    def step_const(h, b_t):
        h = a * h + b_t
        return h, h

    return jax.lax.scan(step_const, h0, b)[1]


def _combine(left, right):
    a_l, b_l = left
    a_r, b_r = right
    return a_r * a_l, a_r * b_l + b_r


def _parallel(a, b, h0):
    a_full = jnp.broadcast_to(a, b.shape) if a.ndim < b.ndim else a
    b = b.at[0].add(a_full[0] * h0)
    return jax.lax.associative_scan(_combine, (a_full, b), axis=0)[1]


def _chunk_layout(x, n_chunks, chunk, pad_value, front=False):
    """(L, *state) -> (n_chunks, chunk, *state), padding the end (or the front): a free
    reshape, no copy, when L divides evenly."""
    pad = n_chunks * chunk - x.shape[0]
    if pad:
        width = (pad, 0) if front else (0, pad)
        x = jnp.pad(x, [width] + [(0, 0)] * (x.ndim - 1), constant_values=pad_value)
    return x.reshape((n_chunks, chunk) + x.shape[1:])


def _local_scans(step, b_c, init, a_c=None, reverse=False):
    """Run `step` over the positions of every chunk at once, in the (chunk, position) layout.

    A fori_loop reads position t of all chunks with a strided slice and overwrites it with
    the state in place, so no transposition of the (n_chunks, chunk, *state) arrays and no
    second buffer is ever made.
    """

    last = b_c.shape[1] - 1

    def body(t, carry):
        h, buf = carry
        t = last - t if reverse else t
        b_t = jax.lax.dynamic_index_in_dim(buf, t, 1, keepdims=False)
        a_t = None if a_c is None else jax.lax.dynamic_index_in_dim(a_c, t, 1, keepdims=False)
        h = step(h, a_t, b_t)
        return h, jax.lax.dynamic_update_index_in_dim(buf, h, t, 1)

    return jax.lax.fori_loop(0, b_c.shape[1], body, (init, b_c))[1]


def _chunked(a, b, h0, chunk):
    length = b.shape[0]
    state = b.shape[1:]
    chunk = min(chunk, length)
    n_chunks = -(-length // chunk)
    b_c = _chunk_layout(b, n_chunks, chunk, 0)
    zeros = jnp.zeros((n_chunks,) + state, b.dtype)
    if a.ndim == b.ndim:
        a_c = _chunk_layout(a, n_chunks, chunk, 1)
        h_local = _local_scans(lambda h, a_t, b_t: a_t * h + b_t, b_c, zeros, a_c)
        # Decay from the start of each chunk to every position in it: (n_chunks, chunk, *state).
        powers = jnp.cumprod(a_c, axis=1)
        chunk_decay = powers[:, -1]
    else:
        h_local = _local_scans(lambda h, _, b_t: a * h + b_t, b_c, zeros)
        # a^(t+1) for t = 0..chunk-1, shared by every chunk: (1, chunk, *state).
        powers = jnp.cumprod(jnp.broadcast_to(a, (chunk,) + state), axis=0)[None]
        chunk_decay = jnp.broadcast_to(powers[0, -1], (n_chunks,) + state)
    # State entering each chunk: H_c = decay_c * H_{c-1} + end_c, starting from h0.
    ends = _sequential(chunk_decay, h_local[:, -1], h0)
    entering = jnp.concatenate([h0[None], ends[:-1]])
    h = (h_local + powers * entering[:, None]).reshape((n_chunks * chunk,) + state)
    return h[:length] if n_chunks * chunk != length else h


# --- Complex recurrences on stacked real pairs -------------------------------------------
#
# The LRU and the diagonal rungs keep their state as [Re | Im] stacked on the last axis, so
# the input projection's output (seq, 2N) feeds the scan and the scan's output feeds the
# output projection with no complex packing, unpacking or concatenation in between.


def complex_scan_stacked(
    lam_re: Float[Array, " n"],
    lam_im: Float[Array, " n"],
    b: Float[Array, "seq two_n"],
    *,
    reverse: bool = False,
    mode: ScanMode = "auto",
    chunk_size: int | None = None,
) -> Float[Array, "seq two_n"]:
    """h_t = lambda * h_{t-1} + b_t for complex lambda, with b and h stored as [Re | Im].

    Equals `linear_scan(lam, b_re + i b_im)` stacked back as [Re | Im] (zero initial state),
    in real arithmetic: lambda * h is [lr hr - li hi, lr hi + li hr].
    """
    n = lam_re.shape[0]
    if b.ndim != 2 or b.shape[1] != 2 * n:
        raise ValueError(f"b must have shape (seq, 2 * {n}) = (seq, {2 * n}), got {b.shape}")
    if b.shape[0] == 0:
        return b
    mode = resolve_mode(mode, b.shape[0])
    if mode == "native":
        from lrux.kernels import native_complex_scan

        return native_complex_scan(lam_re, lam_im, b, reverse=reverse)
    if mode == "pallas":
        from lrux.kernels.pallas_scan import pallas_complex_scan

        return pallas_complex_scan(lam_re, lam_im, b, reverse=reverse)
    chunk = chunk_size or default_chunk_size(b.shape[0])
    return _stacked_scan(lam_re, lam_im, b, reverse, mode, chunk)


# --- The whole diagonal layer, fused over sequence chunks when not differentiated ---------
#
# y = scan(x @ w_in^T) @ w_out^T + d * x is memory-bound around its two matmuls: unfused, the
# (seq, 2N) input of the scan and its output each make a round trip through main memory.
# Evaluated without differentiation on the native kernel, the layer runs chunk by chunk: the
# matmul, the scan (in place, the state carried from chunk to chunk) and the output matmul of
# one chunk of steps work in cache. Under differentiation the custom VJP's forward runs the
# unfused layer and its backward is that layer's own VJP, so gradients are unchanged.

# steps x state width per chunk: 64k values (256 KiB in float32) per sequence
_FUSED_CHUNK_VALUES = 1 << 16


def projected_complex_scan(
    x: Float[Array, "seq d_model"],
    w_in: Float[Array, "two_n d_model"],
    lam_re: Float[Array, " n"],
    lam_im: Float[Array, " n"],
    w_out: Float[Array, "d_model two_n"],
    d: Float[Array, " d_model"],
    *,
    reverse: bool = False,
    mode: ScanMode = "auto",
    chunk_size: int | None = None,
) -> Float[Array, "seq d_model"]:
    """y = h @ w_out^T + d * x with h = complex_scan_stacked(lambda, x @ w_in^T): the LRU's
    forward. Same values, modes and gradients as those three steps written
    out; with the native kernel, an undifferentiated call of at least two chunks (of
    `chunk_size` steps; default about 64k values of state per chunk) is fused chunk by chunk."""
    n = lam_re.shape[0]
    if w_in.shape[0] != 2 * n or w_out.shape[1] != 2 * n:
        raise ValueError(
            f"w_in must be (2 * {n}, d_model) and w_out (d_model, 2 * {n}), got {w_in.shape}, "
            f"{w_out.shape}"
        )
    length = x.shape[0]
    mode = resolve_mode(mode, length)
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    chunk = chunk_size or max(16, 2 ** int(math.log2(max(1, _FUSED_CHUNK_VALUES // (2 * n)))))
    if mode != "native" or length < 2 * chunk:
        return _unfused_layer(x, w_in, lam_re, lam_im, w_out, d, reverse, mode)
    return _fused_layer(x, w_in, lam_re, lam_im, w_out, d, reverse, chunk)


def _unfused_layer(x, w_in, lam_re, lam_im, w_out, d, reverse, mode):
    h = complex_scan_stacked(lam_re, lam_im, x @ w_in.T, reverse=reverse, mode=mode)
    return h @ w_out.T + d * x


@functools.partial(jax.custom_vjp, nondiff_argnums=(6, 7))
def _fused_layer(x, w_in, lam_re, lam_im, w_out, d, reverse, chunk):
    """The native layer one chunk of steps at a time: full chunks in a loop (from the end
    when reversed), then the remainder (at the far end of the loop's direction)."""
    from lrux.kernels import native_complex_scan

    length, n_chunks = x.shape[0], x.shape[0] // chunk
    rest = length - n_chunks * chunk
    first = rest if reverse else 0  # start of the full chunks

    def piece(start, size, h0):
        x_c = jax.lax.dynamic_slice_in_dim(x, start, size, 0)
        h = native_complex_scan(lam_re, lam_im, x_c @ w_in.T, h0, reverse=reverse, in_place=True)
        return h[0] if reverse else h[-1], h @ w_out.T + d * x_c

    def body(i, carry):
        h0, y = carry
        c = n_chunks - 1 - i if reverse else i
        h_end, y_c = piece(first + c * chunk, chunk, h0)
        return h_end, jax.lax.dynamic_update_slice_in_dim(y, y_c, first + c * chunk, 0)

    y = jnp.zeros((length, w_out.shape[0]), jnp.result_type(x, w_in, w_out, d))
    h0 = jnp.zeros(2 * lam_re.shape[0], jnp.result_type(x, w_in))
    h0, y = jax.lax.fori_loop(0, n_chunks, body, (h0, y))
    if rest:
        start = 0 if reverse else n_chunks * chunk
        y = jax.lax.dynamic_update_slice_in_dim(y, piece(start, rest, h0)[1], start, 0)
    return y


def _fused_layer_fwd(x, w_in, lam_re, lam_im, w_out, d, reverse, chunk):
    layer = functools.partial(_unfused_layer, reverse=reverse, mode="native")
    return jax.vjp(layer, x, w_in, lam_re, lam_im, w_out, d)


def _fused_layer_bwd(reverse, chunk, vjp, g):
    return vjp(g)


_fused_layer.defvjp(_fused_layer_fwd, _fused_layer_bwd)


def _rotate(lam_re, lam_im, h):
    """lambda * h on stacked [Re | Im] pairs along the last axis (lam broadcasts)."""
    n = lam_re.shape[-1]
    h_re, h_im = h[..., :n], h[..., n:]
    return jnp.concatenate([lam_re * h_re - lam_im * h_im, lam_re * h_im + lam_im * h_re], -1)


def _stacked_impl(lam_re, lam_im, b, reverse, mode, chunk):
    if reverse and mode != "chunked":
        return jnp.flip(_stacked_impl(lam_re, lam_im, jnp.flip(b, 0), False, mode, chunk), 0)
    n = lam_re.shape[0]
    if mode == "parallel":
        lam = jax.lax.complex(lam_re, lam_im)
        h = _parallel(lam, jax.lax.complex(b[:, :n], b[:, n:]), jnp.zeros(n, lam.dtype))
        return jnp.concatenate([h.real, h.imag], -1)
    if mode == "sequential":

        def step(h, b_t):
            h = _rotate(lam_re, lam_im, h) + b_t
            return h, h

        return jax.lax.scan(step, jnp.zeros(2 * n, b.dtype), b)[1]
    if mode != "chunked":
        raise ValueError(f"unresolved scan mode {mode!r}")
    return _stacked_chunked(lam_re, lam_im, b, chunk, reverse)


def _stacked_chunked(lam_re, lam_im, b, chunk, reverse):
    """The chunked scan on [Re | Im] pairs; reverse runs natively (no flips of b or h)."""
    n = lam_re.shape[0]
    length = b.shape[0]
    chunk = min(chunk, length)
    n_chunks = -(-length // chunk)
    b_c = _chunk_layout(b, n_chunks, chunk, 0, front=reverse)
    zeros = jnp.zeros((n_chunks, 2 * n), b.dtype)
    step = lambda h, _, b_t: _rotate(lam_re, lam_im, h) + b_t
    h_local = _local_scans(step, b_c, zeros, reverse=reverse)
    lam = jax.lax.complex(lam_re, lam_im)
    # lambda^(k+1) for k steps from the chunk boundary: (chunk, N).
    powers = jnp.cumprod(jnp.broadcast_to(lam, (chunk, n)), axis=0)
    ends = h_local[:, 0] if reverse else h_local[:, -1]
    ends = jax.lax.complex(ends[:, :n], ends[:, n:])
    chunk_states = _sequential(powers[-1], jnp.flip(ends, 0) if reverse else ends, 0 * lam)
    entering = jnp.concatenate([jnp.zeros((1, n), lam.dtype), chunk_states[:-1]])
    if reverse:
        entering = jnp.flip(entering, 0)
        powers = jnp.flip(powers, 0)
    # h = h_local + lambda^(k+1) * entering_c on real pairs, as broadcasts of small stacked
    # factors so that the whole fix-up is one elementwise pass over h_local.
    p_same = jnp.concatenate([powers.real, powers.real], -1)[None]  # (1, chunk, 2N)
    p_swap = jnp.concatenate([-powers.imag, powers.imag], -1)[None]
    e_same = jnp.concatenate([entering.real, entering.imag], -1)[:, None]  # (C, 1, 2N)
    e_swap = jnp.concatenate([entering.imag, entering.real], -1)[:, None]
    h = h_local + p_same * e_same + p_swap * e_swap
    h = h.reshape((n_chunks * chunk, 2 * n))
    if n_chunks * chunk == length:
        return h
    return h[-length:] if reverse else h[:length]


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def _stacked_scan(lam_re, lam_im, b, reverse, mode, chunk):
    return _stacked_impl(lam_re, lam_im, b, reverse, mode, chunk)


def _stacked_fwd(lam_re, lam_im, b, reverse, mode, chunk):
    h = _stacked_impl(lam_re, lam_im, b, reverse, mode, chunk)
    return h, (lam_re, lam_im, h)


def _stacked_bwd(reverse, mode, chunk, residuals, g):
    lam_re, lam_im, h = residuals
    n = lam_re.shape[0]
    # Adjoint: lambda_t = g_t + M^T lambda_{t+1}, M^T is the rotation by conj(lambda).
    adj = _stacked_impl(lam_re, -lam_im, g, not reverse, mode, chunk)
    # grad lambda = sum_t adj_t * conj-free h_{t-1} (h_{t+1} when reversed), as slices.
    adj_t, h_prev = (adj[:-1], h[1:]) if reverse else (adj[1:], h[:-1])
    a_re, a_im = adj_t[:, :n], adj_t[:, n:]
    p_re, p_im = h_prev[:, :n], h_prev[:, n:]
    grad_re = jnp.sum(a_re * p_re + a_im * p_im, axis=0)
    grad_im = jnp.sum(a_im * p_re - a_re * p_im, axis=0)
    return grad_re, grad_im, adj


_stacked_scan.defvjp(_stacked_fwd, _stacked_bwd)
