# Sourced by the two g++ paths (direct-build.sh, cuda-check.sh): the flags every unit of the addon is compiled with,
# as binding.gyp has them (C++20, N-API's defines, Node's and node-addon-api's headers) plus the include dirs and
# defines scripts/build/libtorch.js gives for the libtorch it finds. Sets ADDON_FLAGS.
NODE_INC=$(node -p "require('node-api-headers').include_dir")
ADDON_INC=$(node -p "require('node-addon-api').include_dir")
ADDON_FLAGS="-std=c++20 -fexceptions -frtti -Wall -Wno-unused-parameter -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS
  -DNODE_ADDON_API_DISABLE_DEPRECATED -DBUILDING_NODE_EXTENSION $(node scripts/build/libtorch.js --gyp defines | sed 's/\([^ ]*\)/-D\1/g')
  $(node scripts/build/libtorch.js --gyp cflags) -isystem $NODE_INC -isystem $ADDON_INC"
