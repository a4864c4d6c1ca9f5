#!/usr/bin/env bash
# Runs several training variants of Scripts/demo/train.py at once on one GPU machine (each a
# separate process), then packs each variant's weights, tokenizer and evaluation into
# $OUT/<name>.tar and all logs into $OUT/sweep.log. Usage: OUT=dir Scripts/demo/gpu_sweep.sh [SCALE]
# SCALE (default 1) multiplies the steps (a smoke test uses a small fraction via STEPS_OVERRIDE).
set -u
OUT=${OUT:?}
W=${TMPDIR:-/tmp}/demo-sweep
mkdir -p "$W"
cd "$(dirname "$0")/../.."
run() {  # name, then train.py arguments
  local name=$1; shift
  OMP_NUM_THREADS=2 PYTHONUNBUFFERED=1 timeout ${DEADLINE:-390} python3 Scripts/demo/train.py --out "$W/$name" --workers 3 "$@" \
    ${STEPS_OVERRIDE:+--steps $STEPS_OVERRIDE --n-train 800 --n-eval 20} > "$W/$name.log" 2>&1
  echo "$name exit $?" >> "$W/status"
}
VARIANTS=${VARIANTS:-"A B C D E"}
for v in $VARIANTS; do
  case $v in
    A) run A-medium-3000 --config medium --steps 3000 & ;;
    B) run B-deep-3000 --config deep --steps 3000 & ;;
    C) run C-medium-3000-lr1 --config medium --steps 3000 --lr 0.001 & ;;
    D) run D-deep-3000-lr2 --config deep --steps 3000 --lr 0.002 & ;;
    E) run E-small-3000 --config small --steps 3000 --lr 0.002 & ;;
  esac
done
wait
cat "$W/status"
for f in "$W"/*.log; do
  echo "===== $(basename "$f")"; grep -v "deprecated\|return forward_call" "$f" | tail -80
done > "$OUT/sweep.log"
for d in "$W"/*/; do
  n=$(basename "$d")
  [ -f "$d/text.pt" ] && tar -C "$d" -cf "$OUT/$n.tar" . 
done
grep -h "held-out\|exit" "$W"/status "$W"/*.log
ls -la "$OUT"
