// writeFileAtomic(): the one crash-safe write (core/files.h) for the JSON and charts lib/ writes, as checkpoints use.
#include <napi.h>

#include <vector>

#include "../core/files.h"
#include "addon.h"
#include "args.h"
#include "guard.h"

namespace resnet_cifar {

Napi::Value WriteFileAtomicJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const std::string path = args::String(args::At(info, 0), "path");
    const Napi::Value data = args::At(info, 1);
    std::vector<char> bytes;
    if (data.IsString()) {
      const std::string s = data.As<Napi::String>().Utf8Value();
      bytes.assign(s.begin(), s.end());
    } else if (data.IsTypedArray() && data.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
      auto a = data.As<Napi::Uint8Array>();
      bytes.assign(reinterpret_cast<const char*>(a.Data()), reinterpret_cast<const char*>(a.Data()) + a.ByteLength());
    } else {
      throw TypeErrorEx("data must be a string or a Uint8Array");
    }
    WriteFileAtomic(path, bytes);
    return info.Env().Undefined();
  });
}

}  // namespace resnet_cifar
