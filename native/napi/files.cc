// writeFileAtomic(): the one crash-safe write (core/base/files.h) for the JSON and charts lib/ writes, as checkpoints
// use; readTarGz(): chosen members of a .tar.gz (core/codecs/tar_gz.h), read off the main thread.
#include <napi.h>

#include <map>
#include <memory>
#include <vector>

#include "../core/base/files.h"
#include "../core/codecs/tar_gz.h"
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

// readTarGz(path, wanted: { [path]: maxBytes }) -> Promise<{ members: { name, data: Uint8Array }[], names: string[] }>
Napi::Value ReadTarGzJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const std::string path = args::String(args::At(info, 0), "path");
    const Napi::Object w = args::Object(args::At(info, 1), "wanted");
    std::map<std::string, uint64_t> wanted;
    const Napi::Array keys = w.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string k = keys.Get(i).ToString().Utf8Value();
      wanted[k] = static_cast<uint64_t>(args::Int(w.Get(k), "wanted['" + k + "']", 0, kMaxSafeInteger));
    }
    auto out = std::make_shared<TarContents>();
    return TaskWorker::Run(
        info.Env(), "resnet-cifar:readTarGz", [path, wanted, out] { *out = ReadTarGz(path, wanted); },
        [out](Napi::Env env) -> Napi::Value {
          auto members = Napi::Array::New(env, out->members.size());
          for (size_t i = 0; i < out->members.size(); ++i) {
            auto* data = new std::vector<char>(std::move(out->members[i].data));  // owned by the JS buffer
            auto m = Napi::Object::New(env);
            m.Set("name", out->members[i].name);
            m.Set("data",
                  Napi::Buffer<char>::New(env, data->data(), data->size(), [data](Napi::Env, char*) { delete data; }));
            members.Set(static_cast<uint32_t>(i), m);
          }
          auto names = Napi::Array::New(env, out->names.size());
          for (size_t i = 0; i < out->names.size(); ++i) names.Set(static_cast<uint32_t>(i), out->names[i]);
          auto o = Napi::Object::New(env);
          o.Set("members", members);
          o.Set("names", names);
          return o;
        });
  });
}

}  // namespace resnet_cifar
