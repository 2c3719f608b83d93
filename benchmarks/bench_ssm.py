"""Speed of the SSM comparison layers against the LRU, measured in one process.

Forward and forward+backward (value_and_grad of a mean-square loss with respect to the
parameters and the input) of one mixer layer, built through the registry (`lru` and the
"ssm" family), vmapped over batch 8, d_model H = 128, float32:

- ``lru``: `lrux.layers.lru.LRU`, N = 128 complex states (one scan);
- ``s4d``: `S4D`, N = 128 (64 complex modes per channel), ZOH, Vandermonde kernel + FFT;
- ``s5``: `S5`, P = 128 (64 complex modes, conjugate symmetry), ZOH, one scan;
- ``s4``: `S4`, N = 128, l_max = L, Cauchy/Woodbury kernel + FFT;
- ``rglru``: `RGLRU`, recurrence width 128 (Griffin block: 3 dense, conv, gates, scan).

Prints milliseconds and ratios to the LRU at each L (the paper's Table 4 compares LRU, S4D and
S5 training speed on an A100 and finds them within 2x of each other), the compiled peak
memory of forward+backward, and writes ``benchmarks/results/ssm.json`` (``ssm_quick.json``
with ``--quick``, so a smoke run never overwrites the measured figures).

    python benchmarks/bench_ssm.py            # L in 1024, 4096
    python benchmarks/bench_ssm.py --quick    # tiny sizes, seconds
"""

import argparse

import equinox as eqx
import jax
import jax.numpy as jnp
from common import peak_bytes, timeit, write_results

from lrux.registry import make_mixer, mixer_entry, mixer_names

NAMES = ("lru", *mixer_names("ssm"))
RING = (0.9, 0.999)  # the long-range ring (Table 9, sCIFAR/PF), for mixers that take one


def build(name: str, width: int, state: int, length: int, key, scan_mode: str):
    """The registered mixer at this size: on RING where it takes a ring (the registry's
    fact), `scan_mode` where it takes one, the sequence length as its length option (S4's
    l_max)."""
    entry = mixer_entry(name)
    options = dict(entry.ring_kwargs(*RING))
    if "scan_mode" in entry.option_names():
        options["scan_mode"] = scan_mode
    if entry.length_option is not None:
        options[entry.length_option] = length
    return make_mixer(name, width, state, key=key, **options)


def run(lengths, names, batch, width, state, repeats, scan_mode):
    rows = []
    for length in lengths:
        kx, km = jax.random.split(jax.random.fold_in(jax.random.key(0), length))
        x = jax.random.normal(kx, (batch, length, width))
        base = None
        for name in names:
            layer = build(name, width, state, length, km, scan_mode)
            params, static = eqx.partition(layer, eqx.is_array)

            def apply(p, xs, static=static):
                return jax.vmap(eqx.combine(p, static))(xs)

            def loss(p, xs, apply=apply):
                return jnp.mean(apply(p, xs) ** 2)

            fwd = jax.jit(apply).lower(params, x).compile()
            fwd_bwd = jax.jit(jax.value_and_grad(loss, argnums=(0, 1))).lower(params, x).compile()
            t_fwd = timeit(fwd, params, x, repeats=repeats)
            t_fb = timeit(fwd_bwd, params, x, repeats=repeats)
            mem = peak_bytes(fwd_bwd)
            if base is None:
                base = {"fwd": t_fwd, "fwd_bwd": t_fb}
            row = {
                "L": length,
                "name": name,
                "fwd_ms": t_fwd,
                "fwd_bwd_ms": t_fb,
                "fwd_ratio_to_lru": t_fwd / base["fwd"],
                "fwd_bwd_ratio_to_lru": t_fb / base["fwd_bwd"],
                "fwd_bwd_peak_mib": None if mem is None else mem / 2**20,
            }
            rows.append(row)
            peak = row["fwd_bwd_peak_mib"]
            print(
                f"L={length:6d} {name:6s} fwd {t_fwd:9.2f} ms ({row['fwd_ratio_to_lru']:5.2f}x)  "
                f"fwd+bwd {t_fb:9.2f} ms ({row['fwd_bwd_ratio_to_lru']:5.2f}x lru)  "
                f"peak {peak if peak is not None else float('nan'):8.1f} MiB",
                flush=True,
            )
    return rows


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--lengths", type=int, nargs="*", default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--scan-mode", default="auto", help="scan mode of lru, s5 and rglru")
    parser.add_argument(
        "--out", default=None, help="JSON path (default benchmarks/results/ssm[_quick].json)"
    )
    args = parser.parse_args()
    if args.quick:
        batch, width, state = 2, 16, 16
        lengths = args.lengths or [64]
        repeats = args.repeats or 1
    else:
        batch, width, state = 8, 128, 128
        lengths = args.lengths or [1024, 4096]
        repeats = args.repeats or 5
    rows = run(lengths, NAMES, batch, width, state, repeats, args.scan_mode)
    print(f"\nforward+backward time / LRU's ({jax.default_backend()}):")
    print("       L " + "".join(f"{n:>8s}" for n in NAMES))
    for length in lengths:
        sel = {r["name"]: r for r in rows if r["L"] == length}
        print(f"{length:8d} " + "".join(f"{sel[n]['fwd_bwd_ratio_to_lru']:8.2f}" for n in NAMES))
    out = args.out or f"benchmarks/results/ssm{'_quick' if args.quick else ''}.json"
    meta = {"batch": batch, "d_model": width, "d_state": state, "dtype": "float32"}
    meta.update(repeats=repeats, scan_mode=args.scan_mode, quick=args.quick)
    write_results(out, meta, rows)


if __name__ == "__main__":
    main()
