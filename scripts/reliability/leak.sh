#!/usr/bin/env bash
# npm run test:leak — scripts/reliability/leak-target.js under valgrind memcheck. Fails on any error report in our frames:
# invalid reads and writes, uses of uninitialised values and invalid frees whose first frame outside the C and C++
# runtimes is in our addon (resnet_cifar.node / resnet_cifar::), and "definitely lost" blocks allocated from our
# code. Reports that arise inside node, V8 or libtorch (libtorch's optimized code reads the unset payload of the
# std::optional arguments our calls pass as nullopt, which memcheck reports) are counted and reported, not failed.
# Takes a few minutes (valgrind runs everything ~30x slower).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "test:leak needs valgrind (apt-get install valgrind)"; exit 2; }
npx --no-install tsc -p tsconfig.json  # the target runs the compiled dist/
log=$(mktemp)
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --num-callers=50 --error-limit=no \
  --log-file="$log" node scripts/reliability/leak-target.js || { tail -30 "$log"; echo "test:leak: the target failed"; exit 1; }
python3 - "$log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.split(r'\n==\d+== \n', text)
kinds = {
    'invalid read/write': re.compile(r'Invalid (read|write) of size'),
    'uninitialised value': re.compile(r'(Conditional jump or move depends on uninitialised|Use of uninitialised value|'
                                      r'Syscall param .* uninitialised)'),
    'invalid free': re.compile(r'(Invalid free|Mismatched free|Source and destination overlap)'),
    'definitely lost': re.compile(r'definitely lost in loss record'),
}
RUNTIME = re.compile(r'\(in [^)]*(vgpreload|/libc\.so|/libstdc\+\+|/libgcc_s|ld-linux)[^)]*\)')
FRAME = re.compile(r'^\s*(at|by) 0x[0-9A-F]+: .*$', re.M)


def in_ours(block, kind):
    frames = [m.group(0) for m in FRAME.finditer(block)]
    if kind == 'definitely lost':  # allocated from our code
        return any('resnet_cifar' in f for f in frames)
    first = next((f for f in frames if not RUNTIME.search(f)), '')
    return 'resnet_cifar' in first


ours_total = 0
for kind, pattern in kinds.items():
    found = [b for b in blocks if pattern.search(b)]
    ours = [b for b in found if in_ours(b, kind)]
    ours_total += len(ours)
    print(f"valgrind: {kind}: {len(found)} reports, {len(ours)} in resnet-cifar's frames")
    for b in ours[:3]:
        print(re.sub(r'==\d+== ', '', b))
summary = re.search(r'definitely lost: ([\d,]+) bytes in ([\d,]+) blocks', text)
print(f"valgrind: definitely lost {summary.group(1) if summary else '0'} bytes in {summary.group(2) if summary else '0'} blocks")
sys.exit(1 if ours_total else 0)
PY
