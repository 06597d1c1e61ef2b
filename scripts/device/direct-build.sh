#!/usr/bin/env bash
# The addon without CMake: the same units scripts/build/sources.js plans for both builds, compiled and linked against the
# libtorch scripts/build/libtorch.js finds (as binding.gyp does), for a machine where CMake's CUDA detection fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build/Release build/direct
source scripts/device/addon-flags.sh
FLAGS="-O3 -fPIC $ADDON_FLAGS"
objs=()
for src in $(node scripts/build/sources.js --write build/direct/unity); do
  obj=build/direct/$(basename "$src" .cc).o
  g++ $FLAGS -c "$src" -o "$obj" &
  objs+=("$obj")
done
wait
g++ -shared -o build/Release/resnet_cifar.node "${objs[@]}" $(node scripts/build/libtorch.js --gyp ldflags) \
  -Wl,--disable-new-dtags $(node scripts/build/libtorch.js --gyp libs)
echo "direct build: build/Release/resnet_cifar.node"
