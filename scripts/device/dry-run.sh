#!/usr/bin/env bash
# npm run device:dry-run: the whole GPU-machine driver on this CPU, so that the first GPU run is not a debugging
# session. Packs (.device/), copies what a run would carry into a scratch folder (the working tree, .device/base,
# the data parts), and runs every phase there with DEVICE=cpu, a short benchmark and a short training run. Exits
# non-zero on any failure. Keeps the scratch folder with KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
node scripts/device/pack.js
SCRATCH=$(mktemp -d /tmp/rc-dry-XXXX)
trap '[ "${KEEP:-0}" = 1 ] && echo "kept $SCRATCH" || rm -rf "$SCRATCH"' EXIT
echo "dry run in $SCRATCH"
# What travels: tracked and untracked-not-ignored files, and the carried ignored folders. PATH without this
# machine's node: the driver must bring its own.
git ls-files -co --exclude-standard -z | (cd "$ROOT" && xargs -0 cp --parents -t "$SCRATCH")
mkdir -p "$SCRATCH/.device" && cp -r .device/base .device/data "$SCRATCH/.device/"
cd "$SCRATCH"
NODE_DIR=$(dirname "$(command -v node)")
CLEAN_PATH=$(echo "$PATH" | tr ':' '\n' | grep -vx "$NODE_DIR" | paste -sd:)
PATH="$CLEAN_PATH" DEVICE=cpu WORK="$SCRATCH/work" OUT="$SCRATCH/out" DEADLINE=${DEADLINE:-1500} \
  BENCH_STEPS=5 TRAIN_ITERATIONS=40 EVAL_EVERY=20 CHECKPOINT_EVERY=20 \
  bash scripts/device/driver.sh setup data 1 data 2 data 3 check bench train
echo
echo "dry run: every phase passed; the GPU run would bring back:"
(cd "$SCRATCH/out" && find . -type f | sort | head -20)
node -e "const c = require('$SCRATCH/out/checks.json'); if (!c.passed) process.exit(1)"
# The page a GPU run's folders become (docs/results/gpu.md there); here it only has to be written.
node scripts/device/report.js "$SCRATCH/out" > "$SCRATCH/gpu.md" && echo "report: $(wc -l < "$SCRATCH/gpu.md") lines"

