"""The native CPU scans: fused C++ kernels for the diagonal recurrences, called through XLA's
FFI: `native_complex_scan` (the LRU family's [Re | Im] pairs) and `native_linear_scan`
(`linear_scan`'s general form: real or complex, constant or time-varying a, h0).

`scan_cpu.cc` is compiled on first use with the machine's C++ compiler against the
installed jaxlib's FFI headers, cached under ``$LRUX_CACHE_DIR`` (default
``~/.cache/lrux/kernels``, keyed on the source, jaxlib version and flags), loaded with
ctypes and registered with `jax.ffi`. One pass over memory per sequence does what the chunked
XLA scan does in several: forward h_t = lambda h_{t-1} + b_t (one read of b, one write of
h), and backward the adjoint scan with the gradient of lambda accumulated in the same pass.
The sequences of a batch (vmap hands the kernel all of them at once) are split over the
CPU's cores; under a device mesh each device runs the kernel on its own rows of a sharded
batch (`lrux.kernels.sharded`), so the kernels serve 8 CPU devices or many hosts unchanged.

When no compiler is found or the build fails, `native_available()` is False (with one
warning saying why) and ``mode="auto"`` keeps the chunked XLA scan. ``LRUX_NATIVE=0`` turns
the kernel off.
"""

import ctypes
import functools
import hashlib
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from typing import cast

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

SOURCE = os.path.join(os.path.dirname(__file__), "scan_cpu.cc")
# -fcx-limited-range: plain complex products, without C99's NaN/inf recovery (as XLA's)
PORTABLE_FLAGS = ("-O3", "-fcx-limited-range", "-std=c++17", "-shared", "-fPIC", "-w", "-pthread")
FLAGS = (*PORTABLE_FLAGS, "-march=native")  # tried first; PORTABLE_FLAGS if it fails
_TARGETS = {
    "forward": {"float32": "LruxScanForwardF32", "float64": "LruxScanForwardF64"},
    "backward": {"float32": "LruxScanBackwardF32", "float64": "LruxScanBackwardF64"},
    **{
        f"linear_{kind}": {
            "float32": f"LruxLinear{Kind}F32",
            "float64": f"LruxLinear{Kind}F64",
            "complex64": f"LruxLinear{Kind}C64",
            "complex128": f"LruxLinear{Kind}C128",
        }
        for kind, Kind in (("forward", "Forward"), ("backward", "Backward"))
    },
}


def cache_dir() -> str:
    return os.environ.get("LRUX_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "lrux", "kernels"
    )


def _cpu_features() -> str:
    """The CPU's feature flags: -march=native code must not be reused on another CPU."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        return platform.processor()


def _library_path(compiler: str, flags: tuple[str, ...]) -> str:
    from jaxlib.version import __version__ as jaxlib_version

    with open(SOURCE, "rb") as f:
        digest = hashlib.sha256(f.read())
    key = (compiler, *flags, jaxlib_version, sys.platform, platform.machine(), _cpu_features())
    digest.update(" ".join(key).encode())
    return os.path.join(cache_dir(), f"scan_cpu-{digest.hexdigest()[:16]}.so")


def build(compiler: str | None = None) -> str:
    """Compile `scan_cpu.cc` into the cache (if not there yet); return the library's path.

    Tries `FLAGS` (tuned for this CPU), then `PORTABLE_FLAGS`; raises RuntimeError with the
    compiler's command and error output when both fail.
    """
    compiler = compiler or os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if not compiler:
        raise RuntimeError("no C++ compiler found (set CXX or install g++)")
    errors = []
    for flags in (FLAGS, PORTABLE_FLAGS):
        path = _library_path(compiler, flags)
        if os.path.exists(path):
            return path
        try:
            _compile(compiler, flags, path)
            return path
        except RuntimeError as err:
            errors.append(str(err))
    raise RuntimeError("\n".join(errors))


def _compile(compiler: str, flags: tuple[str, ...], path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # Compile to a private name, then rename: concurrent processes never see a partial file.
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=os.path.dirname(path))
    os.close(fd)
    cmd = [compiler, *flags, f"-I{jax.ffi.include_dir()}", SOURCE, "-o", tmp]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@functools.cache
def _load() -> str | None:
    """Build, load and register the kernels once per process; the reason on failure."""
    if os.environ.get("LRUX_NATIVE", "1") == "0":
        return "disabled by LRUX_NATIVE=0"
    try:
        lib = ctypes.cdll.LoadLibrary(build())
        for names in _TARGETS.values():
            for name in names.values():
                jax.ffi.register_ffi_target(
                    name, jax.ffi.pycapsule(getattr(lib, name)), platform="cpu"
                )
    except Exception as err:  # no compiler, failed build, unloadable library
        warnings.warn(
            f"lrux: the native CPU scan is unavailable, using the chunked XLA scan ({err})",
            RuntimeWarning,
            stacklevel=3,
        )
        return str(err)
    return None


def native_available() -> bool:
    """True when the native kernel is built and registered (builds it on first call)."""
    return _load() is None


def _cores() -> int:
    """Usable cores: the kernel splits the sequences of one call over at most this many
    threads (it also caps them at the number of sequences and by the amount of work)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _target(kind: str, dtype) -> str:
    name = _TARGETS[kind].get(jnp.dtype(dtype).name)
    if name is None:
        raise TypeError(
            f"the native scan supports {', '.join(_TARGETS[kind])}, got {jnp.dtype(dtype)}"
        )
    reason = _load()
    if reason is not None:
        raise RuntimeError(f"the native CPU scan is unavailable: {reason}")
    return name


# Each kernel's per-sequence axes (factor names shared between arguments) and, for each
# result, the argument whose shape it has. The linear kernels' a is "s" or "l s" (constant
# or time-varying), filled in per call.
_CORE_DIMS = {
    "forward": (("n", "n", "m", "l m"), (3,)),  # lam_re, lam_im, h0, b -> h
    "backward": (("n", "n", "l m", "l m"), (2, 0, 1)),  # lam_re, lam_im, h, g -> adj, dre, dim
    "linear_forward": ((None, "l s", "s"), (1,)),  # a, b, h0 -> h
    "linear_backward": ((None, "l s", "s", "l s"), (1, 0, 2)),  # a, h, h0, g -> adj, da, dh0
}


def _call(kind: str, *args: Array, reverse: bool, aliases: tuple[tuple[int, int], ...] = ()):
    """Call kernel `kind` on `args` (`aliases`: (argument, result) pairs written in place).
    vmap hands the kernel every batch axis as leading axes (it loops over them in C++), and
    under a device mesh each device runs it on its own rows (`lrux.kernels.sharded`)."""
    from lrux.kernels.sharded import batched_kernel

    dims, like = _CORE_DIMS[kind]
    if dims[0] is None:  # the linear kernels: a is time-varying when it has b's rank
        dims = ("l s" if args[0].ndim == args[1].ndim else "s", *dims[1:])
    kernel = batched_kernel(
        _target(kind, args[-1].dtype), dims, like, aliases, reverse=int(reverse), threads=_cores()
    )
    return kernel(*args)


def native_complex_scan(
    lam_re: Float[Array, " n"],
    lam_im: Float[Array, " n"],
    b: Float[Array, "seq two_n"],
    h0: Float[Array, " two_n"] | None = None,
    *,
    reverse: bool = False,
    in_place: bool = False,
) -> Float[Array, "seq two_n"]:
    """h_t = lambda * h_{t-1} + b_t on [Re | Im] pairs from h0 (zeros when None), in one C++
    pass; `reverse=True` runs from the end (h0 is the state after the end). Same contract as
    `lrux.scan.complex_scan_stacked`, with a custom VJP that is one more C++ pass.

    `in_place=True` writes h over b's buffer (XLA copies b first if it is still needed), for
    a forward that is not differentiated; it is not differentiable."""
    lam_re, lam_im = lam_re.astype(b.dtype), lam_im.astype(b.dtype)
    h0 = jnp.zeros(b.shape[1:], b.dtype) if h0 is None else h0.astype(b.dtype)
    if in_place:
        return _call("forward", lam_re, lam_im, h0, b, reverse=reverse, aliases=((3, 0),))[0]
    return _native_scan(lam_re, lam_im, h0, b, bool(reverse))


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def _native_scan(lam_re, lam_im, h0, b, reverse):
    return _native_fwd(lam_re, lam_im, h0, b, reverse)[0]


def _native_fwd(lam_re, lam_im, h0, b, reverse):
    (h,) = _call("forward", lam_re, lam_im, h0, b, reverse=reverse)
    return h, (lam_re, lam_im, h0, h)


def _native_bwd(reverse, residuals, g):
    lam_re, lam_im, h0, h = residuals
    n = lam_re.shape[-1]
    adj, grad_re, grad_im = _call("backward", lam_re, lam_im, h, g, reverse=reverse)
    # The kernel pairs the adjoint with h_{t-1} inside the sequence; the first step's
    # h_{-1} = h0 adds its term here, and dh0 = conj(lambda) * adj there.
    first = adj[..., -1, :] if reverse else adj[..., 0, :]
    a_re, a_im = first[..., :n], first[..., n:]
    p_re, p_im = h0[..., :n], h0[..., n:]
    grad_re = grad_re + a_re * p_re + a_im * p_im
    grad_im = grad_im + a_im * p_re - a_re * p_im
    grad_h0 = jnp.concatenate(
        [lam_re * a_re + lam_im * a_im, lam_re * a_im - lam_im * a_re], axis=-1
    )
    return grad_re, grad_im, grad_h0, adj


_native_scan.defvjp(_native_fwd, _native_bwd)


# --- linear_scan: h_t = a_t * h_{t-1} + b_t, real or complex, constant or time-varying a ---


def native_linear_scan(a: Array, b: Array, h0: Array, *, reverse: bool = False) -> Array:
    """`lrux.scan.linear_scan` in one C++ pass (and one for its VJP): b (seq, *state), a
    constant (*state) or time-varying (seq, *state), h0 (*state), one dtype for all three
    (float32/64 or complex64/128; the caller promotes)."""
    length, state = b.shape[0], b.shape[1:]
    size = math.prod(state)
    flat_a = a.reshape((length, size) if a.ndim == b.ndim else (size,))
    # cast: jax.custom_vjp applied through functools.partial loses the return type
    h = _native_linear(flat_a, b.reshape(length, size), h0.reshape(size), bool(reverse))
    return cast(Array, h).reshape(b.shape)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _native_linear(a: Array, b: Array, h0: Array, reverse: bool) -> Array:
    return _native_linear_fwd(a, b, h0, reverse)[0]


def _native_linear_fwd(a, b, h0, reverse):
    (h,) = _call("linear_forward", a, b, h0, reverse=reverse)
    return h, (a, h, h0)


def _native_linear_bwd(reverse, residuals, g):
    a, h, h0 = residuals
    adj, grad_a, grad_h0 = _call("linear_backward", a, h, h0, g, reverse=reverse)
    return grad_a, adj, grad_h0


_native_linear.defvjp(_native_linear_fwd, _native_linear_bwd)
