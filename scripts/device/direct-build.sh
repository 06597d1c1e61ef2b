#!/usr/bin/env bash
# The addon without CMake: the same units scripts/sources.js plans for both builds, compiled and linked against the
# libtorch scripts/libtorch.js finds (as binding.gyp does), for a machine where CMake's CUDA detection fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build/Release build/direct
NODE_INC=$(node -p "require('node-api-headers').include_dir")
ADDON_INC=$(node -p "require('node-addon-api').include_dir")
FLAGS="-O3 -fPIC -std=c++20 -fexceptions -frtti -Wall -Wno-unused-parameter -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS
  -DNODE_ADDON_API_DISABLE_DEPRECATED -DBUILDING_NODE_EXTENSION $(node scripts/libtorch.js --gyp defines | sed 's/\([^ ]*\)/-D\1/g')
  $(node scripts/libtorch.js --gyp cflags) -I$NODE_INC -I$ADDON_INC"
objs=()
for src in $(node scripts/sources.js --write build/direct/unity); do
  obj=build/direct/$(basename "$src" .cc).o
  g++ $FLAGS -c "$src" -o "$obj" &
  objs+=("$obj")
done
wait
g++ -shared -o build/Release/resnet_cifar.node "${objs[@]}" $(node scripts/libtorch.js --gyp ldflags) \
  -Wl,--disable-new-dtags $(node scripts/libtorch.js --gyp libs)
echo "direct build: build/Release/resnet_cifar.node"
