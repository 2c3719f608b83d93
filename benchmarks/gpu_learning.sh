#!/usr/bin/env bash
# Learning on ONE GPU: generate ListOps (96k/2k/2k, LRA lengths) and Pathfinder-32 (100k
# images, difficulty 14) with all cores, then train the LRU paper presets (Table 9: depth 6,
# widths, batch, lr, ring, bidirectional Pathfinder) for a fixed wall budget each, through
# lrux.train.run. Records the validation curves, steps/s and test accuracy at the best
# validation step in $OUT/learning_gpu.json (written at every evaluation) and draws
# learning_gpu.png; all of it in under 10 minutes on an H200.
#
#   OUT=/some/dir bash benchmarks/gpu_learning.sh        # from the repository root
#   TINY=1 BUDGET_S=5 bash benchmarks/gpu_learning.sh    # the CPU check: toy sizes, seconds
#
# Needs jax (CUDA), equinox, optax, grain, orbax-checkpoint, tqdm, pillow, matplotlib; reaches
# no registry and downloads nothing. Each step runs in its own process under a time limit;
# Pathfinder is generated in the background while ListOps trains.
set -u
OUT=${OUT:-benchmarks/results}
BUDGET_S=${BUDGET_S:-160}            # training seconds per task (steps set from a timed calibration)
WORK=${WORK:-/tmp/lrux-gpu-learning} # data (reused by a rerun) and run directories
TINY=${TINY:-0}
WORKERS=${WORKERS:-$(nproc)}
LIMIT_S=${LIMIT_S:-$(( BUDGET_S + 110 ))}   # per task: calibration, compile, budget, eval, test
RUNS="$WORK/runs/$(date +%Y%m%d-%H%M%S)"  # new run directories each time
mkdir -p "$OUT" "$WORK"
LOG="$OUT/learning_gpu.log"
: > "$LOG"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
FLAGS=(--data-dir "$WORK/data" --workers "$WORKERS")
if [ "$TINY" = 1 ]; then FLAGS+=(--tiny); fi
G="python -m benchmarks.learning_suite.gpu"
start=$(date +%s)
say() { echo "[$(( $(date +%s) - start )) s] $*" | tee -a "$LOG"; }
python -c "import jax; print('jax', jax.__version__, jax.devices())" 2>&1 | tee -a "$LOG"
if [ "$TINY" != 1 ] && ! python -c "import jax, sys; sys.exit(jax.default_backend() != 'gpu')"; then
  say "error: no GPU backend (set TINY=1 for the CPU check)"; exit 2
fi
say "generate listops ($WORKERS workers)"
timeout 120 $G generate listops "${FLAGS[@]}" >>"$LOG" 2>&1 || say "listops generation: rc=$?"
say "generate pathfinder in the background (leaving 2 cores to the ListOps run)"
PF_WORKERS=$(( WORKERS > 3 ? WORKERS - 2 : 1 ))
timeout 300 $G generate pathfinder --data-dir "$WORK/data" --workers "$PF_WORKERS" \
    $([ "$TINY" = 1 ] && echo --tiny) >>"$LOG" 2>&1 &
pf_gen=$!
train() {
  timeout "$LIMIT_S" $G train "$1" "${FLAGS[@]}" --runs-dir "$RUNS" \
      --out "$OUT/learning_gpu.json" --budget-s "$BUDGET_S" >>"$LOG" 2>&1
  say "$1: rc=$? (124: over ${LIMIT_S} s)"
}
say "train listops for ${BUDGET_S} s"
train listops
wait "$pf_gen"; say "pathfinder generation: rc=$?"
say "train pathfinder for ${BUDGET_S} s"
train pathfinder
FIG="$OUT/figures"
python benchmarks/learning.py --plot --markdown --out "$OUT/learning_gpu.json" \
    --fig-dir "$FIG" 2>&1 | tee -a "$LOG"
say "total; wrote $OUT/learning_gpu.json, $LOG and $FIG/learning_gpu.png"
