#!/usr/bin/env bash
# npm run test:leak — scripts/leak-target.js under valgrind memcheck. A "definitely lost" block whose stack has a
# frame in our addon (resnet_cifar.node / resnet_cifar::) is a failure; leaks wholly inside node, V8 or libtorch
# are counted and reported, not failed. Takes a few minutes (valgrind runs everything ~30x slower).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "test:leak needs valgrind (apt-get install valgrind)"; exit 2; }
log=$(mktemp)
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --num-callers=50 \
  --log-file="$log" node scripts/leak-target.js
python3 - "$log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.split(r'\n==\d+== \n', text)
lost = [b for b in blocks if 'definitely lost in loss record' in b]
ours = [b for b in lost if 'resnet_cifar' in b]
summary = re.search(r'definitely lost: ([\d,]+) bytes in ([\d,]+) blocks', text)
print(f"valgrind: definitely lost {summary.group(1) if summary else '0'} bytes in {summary.group(2) if summary else '0'} blocks; "
      f"{len(lost)} records, {len(ours)} with a frame in resnet-cifar's code")
for b in ours[:5]:
    print(re.sub(r'==\d+== ', '', b))
sys.exit(1 if ours else 0)
PY
