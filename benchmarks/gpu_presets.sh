#!/usr/bin/env bash
# The six LRU paper presets (Table 9 sizes and batches) on ONE GPU: steps/s and peak GPU memory
# next to the paper's A100 figures (paper.md section 5, Table 4).
#
#   OUT=/some/dir bash benchmarks/gpu_presets.sh                    # from the repository root
#   SCAN_MODE=pallas OUT=/some/dir bash benchmarks/gpu_presets.sh   # the Pallas scan kernels
#
# Needs jax (CUDA), equinox, optax, orbax-checkpoint; NOT grain, tqdm or the LRA data: each
# preset trains on synthetic batches in its shapes through the same jitted, donated train step
# as examples/train_lra.py (lrux.train.benchmark.time_preset). Each task runs in its own
# process (so peak memory is per preset) under a time limit; all six stay under 8 minutes.
# Writes $OUT/gpu_presets.json (merged rows) and $OUT/gpu_presets.log; with SCAN_MODE set
# (auto, parallel, pallas, ...: every mixer's scan_mode) gpu_presets_$SCAN_MODE.json and .log.
set -u
OUT=${OUT:-benchmarks/results}
STEPS=${STEPS:-20}          # timed steps per preset, after 2 warm-up (compile) steps
PER_TASK_S=${PER_TASK_S:-75}
MODEL=${MODEL:-lru}
SCAN_MODE=${SCAN_MODE:-}
NAME=gpu_presets${SCAN_MODE:+_$SCAN_MODE}
mkdir -p "$OUT"
PARTS=$(mktemp -d)
LOG="$OUT/$NAME.log"
: > "$LOG"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python -c "import jax; print(jax.__version__, jax.devices())" 2>&1 | tee -a "$LOG"
start=$(date +%s)
for task in listops text retrieval image pathfinder pathx; do
  t0=$(date +%s)
  timeout "$PER_TASK_S" python benchmarks/bench_train.py --gpu --model "$MODEL" \
      --tasks "$task" --presets paper --steps "$STEPS" --warmup 2 --out "$PARTS/$task.json" \
      ${SCAN_MODE:+--scan-mode "$SCAN_MODE"} >>"$LOG" 2>&1
  rc=$?
  echo "$task: rc=$rc in $(( $(date +%s) - t0 )) s" | tee -a "$LOG"
  if [ $rc -ne 0 ]; then
    echo "{\"rows\": [{\"task\": \"$task\", \"preset\": \"paper\", \"error\": \"exit code $rc (124: over ${PER_TASK_S}s)\"}]}" > "$PARTS/$task.json"
  fi
done
echo "total $(( $(date +%s) - start )) s" | tee -a "$LOG"
python - "$PARTS" "$OUT/$NAME.json" "$MODEL" "${SCAN_MODE:-preset}" <<'PY' 2>&1 | tee -a "$LOG"
import glob, json, os, sys
parts, out, model, scan_mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows, meta = [], {}
for task in ["listops", "text", "retrieval", "image", "pathfinder", "pathx"]:
    path = os.path.join(parts, f"{task}.json")
    if not os.path.exists(path):
        rows.append({"task": task, "error": "no result"})
        continue
    data = json.load(open(path))
    meta = meta or {k: v for k, v in data.items() if k not in ("rows", "smoke_runs")}
    rows.extend(data["rows"])
json.dump({"benchmark": "gpu_presets", "model": model, **meta, "scan_mode": scan_mode,
           "rows": rows},
          open(out, "w"), indent=2)
print(f"{'task':10s} {'steps/s':>8s} {'A100':>6s} {'ratio':>6s} {'peak GiB':>9s} {'tokens/s':>11s}")
for r in rows:
    if "error" in r:
        print(f"{r['task']:10s} ERROR {r['error'][:100]}")
        continue
    mem = r.get("peak_memory_bytes")
    print(f"{r['task']:10s} {r['steps_per_sec']:8.2f} {r.get('paper_a100_steps_per_sec') or 0:6.1f} "
          f"{r.get('ratio_to_paper_a100') or 0:6.2f} {(mem or 0) / 2**30:9.2f} "
          f"{r['tokens_per_sec']:11.0f}")
print("wrote", out)
PY
