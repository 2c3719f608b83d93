"""Speed of every rung of the ablation ladder (paper section 4), as ratios to the LRU.

Each rung is built from the registry by name (the "ladder" family: `rnn-relu`, `rnn-tanh`,
`linear-dense`, `diag-reim`, `diag-exp`, `diag-stable-exp`, `diag-ring`, `lru`, plus the
"baseline" family: `gru`, `lstm`) at batch 8 (vmap), d_model = d_state = 128, L = 1024,
float32, and timed forward
and forward+backward (value_and_grad of a mean-square loss with respect to the parameters)
in one process. The repeats are interleaved (one call of every rung per round, median over
rounds) so that load from other processes hits all rungs alike.

The dense rungs are sequential (one (N, N) matrix product per step, nothing to
parallelise); the diagonal rungs run the LRU's kernel (one elementwise linear scan). The
table shows why the paper linearised and diagonalised: it reports 8-29x faster training
than a tanh RNN on an A100 (paper Table 4).

    python benchmarks/bench_ladder.py            # batch 8, H = N = 128, L = 1024
    python benchmarks/bench_ladder.py --quick    # tiny sizes, forward+backward only

Writes ``benchmarks/results/ladder.json`` (``ladder_quick.json`` with ``--quick``, so a smoke
run never overwrites the measured figures; ``--out`` to change).
"""

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
from common import write_results

from lrux.registry import MIXERS, make_mixer, mixer_names

RUNGS = tuple(mixer_names("ladder") + mixer_names("baseline"))


def make_fns(model: eqx.Module):
    """Jitted forward and forward+backward of a batched model, and its parameters."""
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def apply(p, x):
        return jax.vmap(eqx.combine(p, static))(x)

    def loss(p, x):
        return jnp.mean(apply(p, x) ** 2)

    return jax.jit(apply), jax.jit(jax.value_and_grad(loss)), params


def run(names, batch, width, length, repeats, forward=True):
    kx, km = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (batch, length, width))
    fns = {}
    for name in names:
        model = make_mixer(name, width, width, key=km)
        fwd, fwd_bwd, params = make_fns(model)
        start = time.perf_counter()
        if forward:
            jax.block_until_ready(fwd(params, x))
        jax.block_until_ready(fwd_bwd(params, x))
        compile_s = time.perf_counter() - start
        fns[name] = (fwd, fwd_bwd, params, compile_s)
        print(f"compiled {name:16s} in {compile_s:6.1f} s", flush=True)
    times = {name: {"fwd": [], "fwd_bwd": []} for name in names}
    for _ in range(repeats):  # interleaved rounds
        for name, (fwd, fwd_bwd, params, _) in fns.items():
            for kind, fn in (("fwd", fwd), ("fwd_bwd", fwd_bwd)):
                if kind == "fwd" and not forward:
                    continue
                start = time.perf_counter()
                jax.block_until_ready(fn(params, x))
                times[name][kind].append(time.perf_counter() - start)

    def median_ms(values):
        if not values:
            return None
        values = sorted(values)
        return 1e3 * values[len(values) // 2]

    base = "lru" if "lru" in names else names[0]
    base_fwd = median_ms(times[base]["fwd"])
    base_fb = median_ms(times[base]["fwd_bwd"])
    rows = []
    for name in names:
        t_fwd = median_ms(times[name]["fwd"])
        t_fb = median_ms(times[name]["fwd_bwd"])
        rows.append(
            {
                "name": name,
                "description": MIXERS[name].description,
                "fwd_ms": t_fwd,
                "fwd_bwd_ms": t_fb,
                "fwd_ratio_to_lru": None if t_fwd is None else t_fwd / base_fwd,
                "fwd_bwd_ratio_to_lru": t_fb / base_fb,
                "compile_s": fns[name][3],
            }
        )
    return rows, base


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--names", nargs="*", default=None, help=f"rungs (default: {RUNGS})")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--width", type=int, default=None, help="d_model = d_state")
    parser.add_argument("--length", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--out", default=None, help="JSON path (default benchmarks/results/ladder[_quick].json)"
    )
    args = parser.parse_args()
    names = list(args.names or RUNGS)
    unknown = [n for n in names if n not in MIXERS]
    if unknown:
        parser.error(f"unknown rung(s) {unknown}; expected names from {list(MIXERS)}")
    batch = args.batch or (2 if args.quick else 8)
    width = args.width or (16 if args.quick else 128)
    length = args.length or (64 if args.quick else 1024)
    repeats = args.repeats or (2 if args.quick else 7)

    print(
        f"ladder benchmark: batch {batch}, d_model = d_state = {width}, L = {length}, float32, "
        f"{jax.default_backend()}, {repeats} interleaved rounds",
        flush=True,
    )
    rows, base = run(names, batch, width, length, repeats, forward=not args.quick)
    print(f"\n{'rung':16s} {'fwd ms':>10s} {'x ' + base:>8s} {'fwd+bwd ms':>11s} {'x ' + base:>8s}")
    for r in rows:
        fwd = "" if r["fwd_ms"] is None else f"{r['fwd_ms']:10.2f} {r['fwd_ratio_to_lru']:8.2f}"
        print(
            f"{r['name']:16s} {fwd:>19s} "
            f"{r['fwd_bwd_ms']:11.2f} {r['fwd_bwd_ratio_to_lru']:8.2f}   {r['description']}"
        )
    meta = {"batch": batch, "d_model": width, "d_state": width, "length": length}
    meta.update(dtype="float32", repeats=repeats, ratio_base=base, quick=args.quick)
    out = args.out or f"benchmarks/results/ladder{'_quick' if args.quick else ''}.json"
    write_results(out, meta, rows)


if __name__ == "__main__":
    main()
