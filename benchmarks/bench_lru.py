"""LRU speed and memory against the work it cannot avoid, measured in one process.

Rows, all at batch 8, d_model = d_state = 128, float32, forward and forward+backward
(value_and_grad with respect to the parameters and the input):

- ``matmul``: the plain products x @ W1 (H x 2N) @ W2 (2N x H) that any LRU must do;
- ``lru[MODE]``: `lrux.LRU` with each scan mode;
- ``paper-code``: a straightforward formulation of the paper's appendix code (complex B
  matvec per step via vmap, associative scan over lambda repeated L times, complex C per
  step), written here.

Prints a table of milliseconds and ratios to ``matmul``, the compiled peak memory of
forward+backward (XLA's memory analysis: arguments + outputs + temporaries), and the time
per step across L (linear growth keeps it flat). Writes ``benchmarks/results/lru.json``.

    python benchmarks/bench_lru.py            # L in 1024, 4096, 16384
    python benchmarks/bench_lru.py --quick    # tiny sizes, seconds
"""

import argparse

import equinox as eqx
import jax
import jax.numpy as jnp
from common import peak_bytes, timeit, write_results

import lrux
from lrux.kernels import native_available

BATCH = 8
WIDTH = 128


def matmul_model(params, x):
    w1, w2 = params
    return (x @ w1) @ w2


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


def run(lengths, repeats, modes):
    key = jax.random.key(0)
    rows = []
    for length in lengths:
        kx, kw1, kw2, kl = jax.random.split(jax.random.fold_in(key, length), 4)
        x = jax.random.normal(kx, (BATCH, length, WIDTH))
        w = (
            jax.random.normal(kw1, (WIDTH, 2 * WIDTH)) / WIDTH**0.5,
            jax.random.normal(kw2, (2 * WIDTH, WIDTH)) / WIDTH**0.5,
        )
        candidates = {"matmul": (matmul_model, w)}
        for mode in modes:
            lru = lrux.LRU(WIDTH, WIDTH, r_min=0.9, r_max=0.999, scan_mode=mode, key=kl)
            params, static = eqx.partition(lru, eqx.is_array)
            candidates[f"lru[{mode}]"] = (
                lambda p, x, static=static: jax.vmap(eqx.combine(p, static))(x),
                params,
            )
        lru = lrux.LRU(WIDTH, WIDTH, r_min=0.9, r_max=0.999, key=kl)
        params, static = eqx.partition(lru, eqx.is_array)
        candidates["paper-code"] = (
            lambda p, x, static=static: jax.vmap(lambda s: paper_code(eqx.combine(p, static), s))(
                x
            ),
            params,
        )
        base = {}
        for name, (apply, params) in candidates.items():
            fwd, fwd_bwd, _ = make_fns(apply)
            t_fwd = timeit(fwd, params, x, repeats=repeats)
            t_fb = timeit(fwd_bwd, params, x, repeats=repeats)
            mem = peak_bytes(fwd_bwd.lower(params, x).compile())
            if name == "matmul":
                base = {"fwd": t_fwd, "fwd_bwd": t_fb}
            row = {
                "L": length,
                "name": name,
                "fwd_ms": t_fwd,
                "fwd_bwd_ms": t_fb,
                "fwd_ratio": t_fwd / base["fwd"],
                "fwd_bwd_ratio": t_fb / base["fwd_bwd"],
                "fwd_bwd_peak_mib": None if mem is None else mem / 2**20,
                "fwd_bwd_us_per_step": 1e3 * t_fb / length,
            }
            rows.append(row)
            print(
                f"L={length:6d} {name:18s} fwd {t_fwd:9.2f} ms ({row['fwd_ratio']:5.2f}x)  "
                f"fwd+bwd {t_fb:9.2f} ms ({row['fwd_bwd_ratio']:5.2f}x)  "
                f"peak {row['fwd_bwd_peak_mib'] or float('nan'):8.1f} MiB",
                flush=True,
            )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--lengths", type=int, nargs="*", default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--out", default="benchmarks/results/lru.json")
    args = parser.parse_args()
    lengths = args.lengths or ([64, 256] if args.quick else [1024, 4096, 16384])
    repeats = args.repeats or (2 if args.quick else 5)
    modes = ["auto", "native", "chunked", "sequential", "parallel"]
    if not native_available():
        modes.remove("native")
    rows = run(lengths, repeats, modes)
    print("\nsummary (forward+backward, ratio to the matmuls it cannot avoid):")
    for length in lengths:
        sel = {r["name"]: r for r in rows if r["L"] == length}
        best = min(
            (r for n, r in sel.items() if n.startswith("lru")), key=lambda r: r["fwd_bwd_ms"]
        )
        print(
            f"  L={length:6d}: lru[auto] {sel['lru[auto]']['fwd_bwd_ratio']:.2f}x matmul, "
            f"best {best['name']} {best['fwd_bwd_ratio']:.2f}x, paper-code "
            f"{sel['paper-code']['fwd_bwd_ratio']:.2f}x; paper-code / lru[auto] = "
            f"{sel['paper-code']['fwd_bwd_ms'] / sel['lru[auto]']['fwd_bwd_ms']:.2f}x"
        )
    auto = [r for r in rows if r["name"] == "lru[auto]"]
    print(
        "  lru[auto] fwd+bwd microseconds per step:",
        [round(r["fwd_bwd_us_per_step"], 2) for r in auto],
    )
    meta = {"batch": BATCH, "d_model": WIDTH, "d_state": WIDTH, "dtype": "float32"}
    write_results(args.out, {**meta, "repeats": repeats}, rows)


if __name__ == "__main__":
    main()
