"""LRU speed and memory against the work it cannot avoid, measured in one process.

Rows, all at batch 8, d_model = d_state = 128, float32, forward and forward+backward
(value_and_grad with respect to the parameters and the input):

- ``matmul``: the plain products x @ W1 (H x 2N) @ W2 (2N x H) that any LRU must do;
- ``matmul[fused]`` (forward only): the same two products one chunk of 256 steps at a time,
  as the LRU's fused forward runs them: the floor of a cache-blocked forward;
- ``lru[MODE]``: `lrux.LRU` with each scan mode (``native`` on CPU, ``pallas`` on GPU);
- ``paper-code``: a straightforward formulation of the paper's appendix code (complex B
  matvec per step via vmap, associative scan over lambda repeated L times, complex C per
  step), written here.

Prints a table of milliseconds and ratios to ``matmul``, the compiled peak memory of
forward+backward (XLA's memory analysis: arguments + outputs + temporaries), and the time
per step across L (linear growth keeps it flat). The candidates of one L take turns in
every repeat (ratios stay fair under a changing load); the load average is recorded.
Writes ``benchmarks/results/lru.json`` (``lru_quick.json`` with ``--quick``).

    python benchmarks/bench_lru.py            # L in 1024, 4096, 16384
    python benchmarks/bench_lru.py --quick    # tiny sizes, seconds
"""

import argparse
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from common import load_average, peak_bytes, time_interleaved, write_results

import lrux
from lrux.kernels import native_available

BATCH = 8
WIDTH = 128


def matmul_model(params, x):
    w1, w2 = params
    return (x @ w1) @ w2


def fused_matmul_model(params, x, chunk=256):
    """matmul_model one chunk of steps at a time (x: (batch, seq, H), seq divisible)."""
    w1, w2 = params
    n_chunks = x.shape[1] // chunk

    def body(c, y):
        x_c = jax.lax.dynamic_slice_in_dim(x, c * chunk, chunk, 1)
        return jax.lax.dynamic_update_slice_in_dim(y, (x_c @ w1) @ w2, c * chunk, 1)

    return jax.lax.fori_loop(0, n_chunks, body, jnp.zeros(x.shape[:2] + w2.shape[1:], x.dtype))


def paper_code(lru: lrux.LRU, x):
    """The paper's appendix formulation, one sequence (vmapped by the caller)."""
    lam = jnp.exp(-jnp.exp(lru.nu_log) + 1j * jnp.exp(lru.theta_log))
    b_norm = (lru.B_re + 1j * lru.B_im) * jnp.exp(lru.gamma_log)[:, None]
    c = lru.C_re + 1j * lru.C_im
    lam_elements = jnp.repeat(lam[None], x.shape[0], axis=0)
    bu_elements = jax.vmap(lambda u: b_norm @ u)(x)

    def binary_operator_diag(q_i, q_j):
        a_i, b_i = q_i
        a_j, b_j = q_j
        return a_j * a_i, a_j * b_i + b_j

    _, hidden = jax.lax.associative_scan(binary_operator_diag, (lam_elements, bu_elements))
    return jax.vmap(lambda h, u: (c @ h).real + lru.D * u)(hidden, x)


def make_fns(apply):
    """Jitted forward and forward+backward (loss = mean square) of apply(params, x)."""

    def loss(params, x):
        return jnp.mean(apply(params, x) ** 2)

    fwd = jax.jit(apply)
    fwd_bwd = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    return fwd, fwd_bwd, loss


def candidates_at(length, modes, key):
    """{name: (apply, params)} and the input x of one sequence length."""
    kx, kw1, kw2, kl = jax.random.split(jax.random.fold_in(key, length), 4)
    x = jax.random.normal(kx, (BATCH, length, WIDTH))
    w = (
        jax.random.normal(kw1, (WIDTH, 2 * WIDTH)) / WIDTH**0.5,
        jax.random.normal(kw2, (2 * WIDTH, WIDTH)) / WIDTH**0.5,
    )
    out: dict[str, tuple[Callable[..., Any], Any]] = {"matmul": (matmul_model, w)}
    if length % 256 == 0 and length >= 512:
        out["matmul[fused]"] = (fused_matmul_model, w)
    for mode in modes:
        lru = lrux.LRU(WIDTH, WIDTH, r_min=0.9, r_max=0.999, scan_mode=mode, key=kl)
        params, static = eqx.partition(lru, eqx.is_array)
        out[f"lru[{mode}]"] = (
            lambda p, x, static=static: jax.vmap(eqx.combine(p, static))(x),
            params,
        )
    lru = lrux.LRU(WIDTH, WIDTH, r_min=0.9, r_max=0.999, key=kl)
    params, static = eqx.partition(lru, eqx.is_array)
    out["paper-code"] = (
        lambda p, x, static=static: jax.vmap(lambda s: paper_code(eqx.combine(p, static), s))(x),
        params,
    )
    return out, x


def run(lengths, repeats, modes):
    rows = []
    for length in lengths:
        candidates, x = candidates_at(length, modes, jax.random.key(0))
        fwd_calls, fb_calls, peaks = {}, {}, {}
        for name, (apply, params) in candidates.items():
            fwd, fwd_bwd, _ = make_fns(apply)
            fwd_calls[name] = (fwd, (params, x))
            if name != "matmul[fused]":  # a forward floor: its gradient is not the point
                fb_calls[name] = (fwd_bwd, (params, x))
                peaks[name] = peak_bytes(fwd_bwd.lower(params, x).compile())
        diffs = agreement(fwd_calls, fb_calls)
        t_fwd = time_interleaved(fwd_calls, repeats)
        t_fb = time_interleaved(fb_calls, repeats)
        for name in candidates:
            fb, mem = t_fb.get(name), peaks.get(name)
            row = {
                "L": length,
                "name": name,
                "fwd_ms": t_fwd[name],
                "fwd_bwd_ms": fb,
                "fwd_ratio": t_fwd[name] / t_fwd["matmul"],
                "fwd_bwd_ratio": None if fb is None else fb / t_fb["matmul"],
                "fwd_bwd_peak_mib": None if mem is None else mem / 2**20,
                "fwd_bwd_us_per_step": None if fb is None else 1e3 * fb / length,
                "max_abs_diff_to_auto": diffs.get(name),
            }
            rows.append(row)
            fb_text = "" if fb is None else f"fwd+bwd {fb:9.2f} ms ({row['fwd_bwd_ratio']:5.2f}x)  "
            mem_text = "" if mem is None else f"peak {row['fwd_bwd_peak_mib']:8.1f} MiB"
            print(
                f"L={length:6d} {name:18s} fwd {t_fwd[name]:9.2f} ms ({row['fwd_ratio']:5.2f}x)  "
                + fb_text
                + mem_text,
                flush=True,
            )
    return rows


def agreement(fwd_calls, fb_calls) -> dict:
    """Per lru[MODE]: the largest difference of its output and gradients from lru[auto]'s
    (same parameters and input), so a kernel that runs fast but wrong shows here."""
    def outputs(name):
        fwd, args = fwd_calls[name]
        return jax.tree.leaves((fwd(*args), fb_calls[name][0](*args)))

    ref = outputs("lru[auto]")
    return {
        name: max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(outputs(name), ref, strict=True))
        for name in fwd_calls
        if name.startswith("lru[")
    }


def bench_modes() -> list[str]:
    """The scan modes worth timing on this backend: native on CPU, pallas on GPU."""
    modes = ["auto", "chunked", "sequential", "parallel"]
    backend = jax.default_backend()
    if backend == "cpu" and native_available():
        modes.insert(1, "native")
    if backend == "gpu":
        modes.insert(1, "pallas")
    return modes


def summary(rows, lengths):
    print("\nsummary (ratio to the matmuls it cannot avoid):")
    for length in lengths:
        sel = {r["name"]: r for r in rows if r["L"] == length}
        auto, paper = sel["lru[auto]"], sel["paper-code"]
        lrus = [r for n, r in sel.items() if n.startswith("lru")]
        best = min(lrus, key=lambda r: r["fwd_bwd_ms"])
        best_fwd = min(lrus, key=lambda r: r["fwd_ms"])
        fused = sel.get("matmul[fused]")
        floor = "" if fused is None else f" ({auto['fwd_ms'] / fused['fwd_ms']:.2f}x matmul[fused])"
        print(
            f"  L={length:6d}: forward lru[auto] {auto['fwd_ratio']:.2f}x matmul{floor}, best "
            f"{best_fwd['name']} {best_fwd['fwd_ratio']:.2f}x; fwd+bwd lru[auto] "
            f"{auto['fwd_bwd_ratio']:.2f}x, best {best['name']} {best['fwd_bwd_ratio']:.2f}x, "
            f"paper-code {paper['fwd_bwd_ratio']:.2f}x; paper-code / lru[auto] = "
            f"{paper['fwd_bwd_ms'] / auto['fwd_bwd_ms']:.2f}x"
        )
    auto = [r for r in rows if r["name"] == "lru[auto]"]
    print(
        "  lru[auto] fwd+bwd microseconds per step:",
        [round(r["fwd_bwd_us_per_step"], 2) for r in auto],
    )


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--lengths", type=int, nargs="*", default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--out", default=None, help="JSON path (default benchmarks/results/lru[_quick].json)"
    )
    args = parser.parse_args()
    lengths = args.lengths or ([64, 512] if args.quick else [1024, 4096, 16384])
    repeats = args.repeats or (2 if args.quick else 5)
    modes = bench_modes()
    load_start = load_average()
    print(f"backend {jax.default_backend()}, modes {modes}, load average {load_start}")
    rows = run(lengths, repeats, modes)
    summary(rows, lengths)
    meta = {"batch": BATCH, "d_model": WIDTH, "d_state": WIDTH, "dtype": "float32"}
    meta.update(repeats=repeats, modes=modes, load_average_at_start=load_start)
    out = args.out or f"benchmarks/results/lru{'_quick' if args.quick else ''}.json"
    write_results(out, meta, rows)


if __name__ == "__main__":
    main()
