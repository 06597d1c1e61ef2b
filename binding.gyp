{
  # node-gyp build of the same sources as CMakeLists.txt; flags come from the same finder (scripts/libtorch.js).
  "targets": [
    {
      "target_name": "resnet_cifar",
      "sources": [
        "native/addon.cc",
        "native/checkpoint.cc",
        "native/dataset.cc",
        "native/fused_bn.cc",
        "native/info.cc",
        "native/model.cc",
        "native/resnet.cc",
        "native/torchscript.cc",
        "native/trainer.cc",
        "native/unpickler.cc",
        "native/zipcheck.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/libtorch.js --gyp include)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "<!@(node scripts/libtorch.js --gyp defines)"
      ],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-frtti", "-Wno-unused-parameter", "<!@(node scripts/libtorch.js --gyp cflags)"],
      "ldflags": ["<!@(node scripts/libtorch.js --gyp ldflags)", "-Wl,--disable-new-dtags"],
      "libraries": ["<!@(node scripts/libtorch.js --gyp libs)"]
    }
  ]
}
