// writeFileAtomic(): the one crash-safe write (core/base/files.h) for the JSON and charts lib/ writes, as checkpoints
// use; readTarGz(): chosen members of a .tar.gz (core/codecs/tar_gz.h), read off the main thread; decodeImageFiles():
// the image files this library decodes itself (core/data/image_files.h), off the main thread.
#include <napi.h>

#include <map>
#include <memory>
#include <vector>

#include "../core/base/files.h"
#include "../core/codecs/tar_gz.h"
#include "../core/data/image_files.h"
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

// A JS buffer over `bytes`, which it owns from then on (freed by its finalizer; by us if making it throws).
Napi::Buffer<uint8_t> OwnedBuffer(Napi::Env env, std::vector<uint8_t>&& bytes) {
  auto v = std::make_unique<std::vector<uint8_t>>(std::move(bytes));
  auto b = Napi::Buffer<uint8_t>::New(
      env, v->data(), v->size(), [](Napi::Env, uint8_t*, std::vector<uint8_t>* owned) { delete owned; }, v.get());
  v.release();
  return b;
}

// decodeImageFiles(files: string[], channels, height, width, maxPixels, cover: boolean) -> Promise<{ decoded:
// Uint8Array (1: decoded), pixels: Uint8Array (files × height × width × channels; a file's bytes mean nothing where
// decoded is 0) }>
Napi::Value DecodeImageFilesJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const Napi::Value list = args::At(info, 0);
    if (!list.IsArray()) throw TypeErrorEx("decodeImageFiles: files must be an array");
    auto arr = list.As<Napi::Array>();
    auto files = std::make_shared<std::vector<std::string>>();
    if (arr.Length() == 0) throw RangeErrorEx("decodeImageFiles: no files");
    for (uint32_t i = 0; i < arr.Length(); ++i)
      files->push_back(args::String(arr.Get(i), "decodeImageFiles: files[i]"));
    ImageShape shape{args::Int(args::At(info, 1), "decodeImageFiles: channels", 1, 3),
                     args::Int(args::At(info, 2), "decodeImageFiles: height", kMinImageSide, kMaxImageSide),
                     args::Int(args::At(info, 3), "decodeImageFiles: width", kMinImageSide, kMaxImageSide)};
    if (!shape.Valid()) throw RangeErrorEx("decodeImageFiles: channels must be 1 or 3");
    const int64_t max_pixels = args::Int(args::At(info, 4), "decodeImageFiles: maxPixels", 1, kMaxSafeInteger);
    const bool cover = args::Bool(args::At(info, 5), "decodeImageFiles: cover");
    auto pixels = std::make_shared<std::vector<uint8_t>>();
    auto decoded = std::make_shared<std::vector<uint8_t>>();
    return TaskWorker::Run(
        info.Env(), "resnet-cifar:decodeImageFiles",
        [files, shape, max_pixels, cover, pixels, decoded] {
          pixels->resize(files->size() * static_cast<size_t>(shape.Pixels()));
          *decoded = DecodeImageFiles(*files, shape, max_pixels, cover, pixels->data());
        },
        [pixels, decoded](Napi::Env env) -> Napi::Value {
          auto o = Napi::Object::New(env);
          o.Set("decoded", OwnedBuffer(env, std::move(*decoded)));
          o.Set("pixels", OwnedBuffer(env, std::move(*pixels)));
          return o;
        });
  });
}

}  // namespace resnet_cifar
