#!/usr/bin/env bash
# The GPU machine's side of issue 10: run from the repository root there, with .device/base carried
# (npm run device:pack fills it here). Phases, in the order given:
#   setup      unpack Node, node_modules and dist/; build the addon against python3's torch (cmake-js, else a direct
#              g++ link of torch's lib/); library path for torch and nvidia/*/lib; ldd: one libtorch, one libcudart
#   check      scripts/device/checks.js: device vs CPU logits, SGD step, batches, checkpoints (TF32 off), graphs vs eager
#   bench      synthetic-batch step speed: ours (ResNet-20 and -56, fp32 and bf16, CUDA graphs on and off; tf32) and
#              the PyTorch peer (eager, and bf16 + torch.compile reduce-overhead)
#   data N     unpack CIFAR-10 part N (.device/data/N carried); once all are there, check every SHA-256
#   train      ResNet-20, the paper's full recipe, on the data above; the checkpoint and result come back in $OUT
# Every phase prints its elapsed time; the driver stops itself DEADLINE seconds (default 540) after it started.
# Each call's $OUT gets at most 8 files (what a run brings back): build.log (with ldd and nvidia-smi's GPU line), checks.json,
# bench.jsonl, train.log, r20/{config.json, metrics.jsonl, checkpoint.pt, final.json}, and driver-failed.json on a failure.
# scripts/device/report.js turns them into docs/results/gpu.md.
# DEVICE=cpu and WORK=<folder> make the dry run (scripts/device/dry-run.sh) run the same phases here.
set -uo pipefail
START=$(date +%s)
DEADLINE=${DEADLINE:-540}
DEVICE=${DEVICE:-cuda}
WORK=${WORK:-/tmp/rc}
OUT=${OUT:-$WORK/out}
BASE=${BASE:-.device/base}
mkdir -p "$WORK/bin" "$OUT"
export PATH="$WORK/bin:$PATH"

elapsed() { echo $(( $(date +%s) - START )); }
left() { echo $(( DEADLINE - $(elapsed) )); }
phase() { echo; echo "=== $1 (at $(elapsed) s, $(left) s left) ==="; }
fail() { echo "driver: $*"; echo "{\"failed\": \"$*\", \"at_s\": $(elapsed)}" > "$OUT/driver-failed.json"; exit 1; }
budget() { local l; l=$(left); [ "$l" -gt "$1" ] || fail "not enough time left for $2 ($l s)"; }

torch_env() {
  local site
  site=$(python3 -c 'import torch, os; print(os.path.dirname(os.path.dirname(torch.__file__)))') || fail "python3 has no torch"
  TORCH_LIB="$site/torch/lib"
  local nv
  nv=$(ls -d "$site"/nvidia/*/lib 2>/dev/null | tr '\n' ':')
  # Node does not preload torch's CUDA libraries as Python's torch does.
  export LD_LIBRARY_PATH="$TORCH_LIB:${nv}${LD_LIBRARY_PATH:-}"
}

setup() {
  phase setup
  [ -x "$WORK/bin/node" ] || { xz -dc "$BASE/node.xz" > "$WORK/bin/node" && chmod +x "$WORK/bin/node"; } || fail "cannot unpack node"
  [ -d node_modules/cmake-js ] || tar -xJf "$BASE/modules.tar.xz" || fail "cannot unpack node_modules"
  tar -xJf "$BASE/dist.tar.xz" dist || fail "cannot unpack dist"
  node --version
  torch_env
  python3 -c 'import torch; print("python torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'
  if [ ! -f build/Release/resnet_cifar.node ]; then
    budget 120 build
    if ! (node scripts/build/build.js > "$OUT/build.log" 2>&1); then
      echo "cmake-js build failed (tail below); again without NCCL"
      tail -20 "$OUT/build.log"
      if ! (RESNET_CIFAR_NCCL=0 node scripts/build/build.js --force >> "$OUT/build.log" 2>&1); then
        echo "cmake-js build without NCCL failed too (tail below); linking torch's lib/ directly"
        tail -20 "$OUT/build.log"
        bash scripts/device/direct-build.sh >> "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; fail "build failed"; }
      fi
    fi
  fi
  echo "built in $(elapsed) s"
  local ldd torchdirs cudart
  ldd=$(ldd build/Release/resnet_cifar.node)
  { echo; echo "ldd:"; echo "$ldd"; } >> "$OUT/build.log"
  echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)" | tee -a "$OUT/build.log"
  torchdirs=$(echo "$ldd" | grep -E 'lib(torch|c10)[^ ]*\.so' | awk '{print $3}' | xargs -r -n1 dirname | sort -u | wc -l)
  cudart=$(echo "$ldd" | grep -E 'libcudart' | awk '{print $3}' | sort -u | wc -l)
  echo "ldd: torch libraries from $torchdirs folder(s); libcudart from $cudart file(s)"
  [ "$torchdirs" -eq 1 ] || fail "torch libraries come from $torchdirs folders (want 1): see build.log"
  [ "$cudart" -le 1 ] || fail "$cudart libcudart files are linked (want 1)"
  node -e "console.log(JSON.stringify(require('./dist/index').info()))"
}

data_part() {
  phase "data $1"
  mkdir -p "$WORK/cifar"
  for f in .device/data/"$1"/*.xz; do
    [ -f "$f" ] || fail "data part $1 was not carried (.device/data/$1)"
    xz -dc "$f" > "$WORK/cifar/$(basename "$f" .xz)" || fail "cannot unpack $f"
  done
  local want have
  want=$(wc -l < "$BASE/SHA256SUMS")
  have=$(ls "$WORK/cifar" | wc -l)
  if [ "$have" -lt "$want" ]; then
    echo "CIFAR-10: $have of $want files so far"
  elif (cd "$WORK/cifar" && sha256sum -c --quiet "$OLDPWD/$BASE/SHA256SUMS"); then
    echo "CIFAR-10 complete; every SHA-256 matches"
    touch "$WORK/cifar/.verified"
  else
    fail "CIFAR-10 checksum mismatch"
  fi
}

check() {
  phase check
  torch_env
  budget 60 checks
  local data="${CHECK_DATA:-$WORK/cifar}"
  [ -f "$data/test_batch.bin" ] || fail "checks need CIFAR-10's test batch (data 1) or CHECK_DATA"
  timeout $(( $(left) - 20 )) node scripts/device/checks.js --device "$DEVICE" --data "$data" --out "$OUT/checks.json"
}

bench() {
  phase bench
  torch_env
  budget 60 bench
  local steps=${BENCH_STEPS:-50}
  {
    for depth in 20 56; do
      for precision in fp32 bf16; do
        for graphs in on off; do
          node scripts/device/bench-ours.js --device "$DEVICE" --depth $depth --precision $precision --graphs $graphs --steps "$steps"
        done
      done
      [ "$DEVICE" = cuda ] && node scripts/device/bench-ours.js --device cuda --depth $depth --precision tf32 --steps "$steps"
      if [ -f "$BASE/pytorch_seed.py" ]; then
        local n=$(( (depth - 2) / 6 ))
        python3 "$BASE/pytorch_seed.py" bench --n $n --device "$DEVICE" --channels-last --steps "$steps" | tail -1
        [ "$DEVICE" = cuda ] && python3 "$BASE/pytorch_seed.py" bench --n $n --device cuda --channels-last --bf16 --compile \
          --compile-mode reduce-overhead --steps "$steps" | tail -1
      fi
    done
  } 2>&1 | tee "$OUT/bench.jsonl"
}

train() {
  phase train
  torch_env
  [ -f "$WORK/cifar/.verified" ] || fail "train needs all of CIFAR-10 (data 1, 2, 3)"
  budget 120 training
  local iterations=${TRAIN_ITERATIONS:-64000}
  # A stop at the deadline keeps a checkpoint in $OUT/r20; the next call continues it (while the machine is warm).
  timeout -s INT $(( $(left) - 15 )) node scripts/device/train.js --device "$DEVICE" --data "$WORK/cifar" \
    --iterations "$iterations" --eval-every "${EVAL_EVERY:-4000}" --checkpoint-every "${CHECKPOINT_EVERY:-8000}" \
    --out "$OUT/r20" > "$OUT/train.log" 2>&1
  local rc=$?
  tail -3 "$OUT/train.log"
  [ $rc -eq 0 ] || fail "training exited $rc"
}

[ $# -gt 0 ] || { echo "usage: driver.sh setup|check|bench|data N|train ..."; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    setup) setup ;;
    check) check ;;
    bench) bench ;;
    data) shift; data_part "$1" ;;
    train) train ;;
    *) fail "unknown phase $1" ;;
  esac
  shift
done
echo; echo "driver done in $(elapsed) s"
