{
  # node-gyp build of the same sources as CMakeLists.txt; flags come from the same finder (scripts/build/libtorch.js).
  "targets": [
    {
      # libjpeg-turbo's decompressor (native/third_party/libjpeg-turbo, vendored C), as CMakeLists.txt builds it: a
      # static library of hidden symbols.
      "target_name": "resnet_cifar_jpeg",
      "type": "static_library",
      "sources": ["<!@(node scripts/build/sources.js --jpeg)"],
      # upstream's code as it is: node-gyp's -Wall would flag one signed/unsigned ?: in jdphuff.c, which CMake's
      # flags (no -Wall for it) do not.
      "cflags": ["-fvisibility=hidden", "-Wno-sign-compare"],
      "direct_dependent_settings": {"include_dirs": ["native/third_party/libjpeg-turbo/src"]},
      "include_dirs": ["native/third_party/libjpeg-turbo/src"]
    },
    {
      "target_name": "resnet_cifar",
      "dependencies": ["resnet_cifar_jpeg"],
      # scripts/build/sources.js decides what to compile, for both builds: one unit per folder of native/ (written to
      # build/unity/), and files with their own compiler options on their own.
      "sources": ["<!@(node scripts/build/sources.js --write build/unity)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "<!@(node scripts/build/libtorch.js --gyp defines)"
      ],
      # -Wno-stringop-overflow: GCC 12 flags an atomic load inside libtorch's IValue destructor here (a known false
      # positive in system headers that node-gyp's flags bring out); our own code builds without warnings.
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-frtti", "-Wno-unused-parameter", "-Wno-stringop-overflow", "<!@(node scripts/build/libtorch.js --gyp cflags)"],
      "ldflags": ["<!@(node scripts/build/libtorch.js --gyp ldflags)", "-Wl,--disable-new-dtags"],
      "libraries": ["<!@(node scripts/build/libtorch.js --gyp libs)"]
    }
  ]
}
