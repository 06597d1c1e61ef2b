// The JS Dataset class over core/data/dataset.h.
#include <napi.h>

#include <ATen/ATen.h>

#include "../core/data/dataset.h"
#include "../core/data/idx.h"
#include "addon.h"
#include "args.h"
#include "convert.h"
#include "guard.h"
#include "wrap.h"

namespace resnet_cifar {

namespace {

class DatasetWrap : public Napi::ObjectWrap<DatasetWrap> {
 public:
  explicit DatasetWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DatasetWrap>(info) {
    Guard(info, [&]() -> Napi::Value {
      state_ = AdoptedState<const Dataset>();
      if (!state_) throw TypeErrorEx("Datasets are made by Dataset.loadBatches, fromPixels or loadIdx");
      return info.Env().Undefined();
    });
  }
  std::shared_ptr<const Dataset> state() const { return state_; }

  Napi::Value Length(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(state_->size()));
  }

  // shape() -> [channels, height, width]
  Napi::Value Shape(const Napi::CallbackInfo& info) {
    const ImageShape sh = state_->shape();
    auto arr = Napi::Array::New(info.Env(), 3);
    arr.Set(0u, static_cast<double>(sh.channels));
    arr.Set(1u, static_cast<double>(sh.height));
    arr.Set(2u, static_cast<double>(sh.width));
    return arr;
  }

  // repeatGrey() -> Promise<Dataset>: grey images as colour ones (the channel three times), made off the main thread.
  Napi::Value RepeatGrey(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto s = state_;
      auto out = std::make_shared<std::shared_ptr<const Dataset>>();
      return TaskWorker::Run(
          info.Env(), "resnet-cifar:repeatGrey", [s, out] { *out = s->RepeatGrey(); },
          [out](Napi::Env env) -> Napi::Value { return NewWrapped<const Dataset>(Data(env).dataset_ctor, *out); });
    });
  }

  // labelCounts(classes) -> number[classes]
  Napi::Value LabelCounts(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      const auto counts = state_->LabelCounts(args::Int(args::At(info, 0), "labelCounts: classes", 1, kMaxClasses));
      auto arr = Napi::Array::New(info.Env(), counts.size());
      for (size_t i = 0; i < counts.size(); ++i) arr.Set(static_cast<uint32_t>(i), static_cast<double>(counts[i]));
      return arr;
    });
  }

  // slice(start, end) -> Dataset sharing this one's memory.
  Napi::Value Slice(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto s = state_->Slice(args::Int(args::At(info, 0), "slice: start"), args::Int(args::At(info, 1), "slice: end"));
      return NewWrapped<const Dataset>(Data(info.Env()).dataset_ctor, s);
    });
  }

  // images(start, count) -> { pixels: Uint8Array (count x C x H x W), labels: Int32Array }
  Napi::Value Images(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      const int64_t n = state_->size();
      const int64_t start = args::Int(args::At(info, 0), "images: start", 0, n - 1);
      const int64_t count = args::Int(args::At(info, 1), "images: count", 1, n - start);
      auto o = Napi::Object::New(info.Env());
      o.Set("pixels", TensorToJs<uint8_t, Napi::Uint8Array>(info.Env(), state_->images().narrow(0, start, count)));
      o.Set("labels",
            TensorToJs<int32_t, Napi::Int32Array>(info.Env(), state_->labels().narrow(0, start, count).to(at::kInt)));
      return o;
    });
  }

  // statistics(kind) -> Promise<{ kind, mean, std }>: the normalization these images define (kept once computed).
  Napi::Value Statistics(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      const NormKind kind = ParseNormKind(args::String(args::At(info, 0), "statistics: kind"));
      auto s = state_;
      auto out = std::make_shared<Normalization>();
      return TaskWorker::Run(
          info.Env(), "resnet-cifar:statistics", [s, kind, out] { *out = s->Statistics(kind); },
          [out](Napi::Env env) -> Napi::Value { return NormalizationToJs(env, *out); });
    });
  }

  // fromPixels(pixels: Uint8Array, labels: Int32Array, { channels, height, width, layout: 'nchw' | 'nhwc', classes })
  // -> Promise<Dataset>: the pixels copied (here, on the main thread), laid out and checked off it.
  static Napi::Value FromPixels(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      const Napi::Value px = args::At(info, 0), lb = args::At(info, 1);
      if (!px.IsTypedArray() || px.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
        throw TypeErrorEx("fromPixels: pixels must be a Uint8Array");
      }
      if (!lb.IsTypedArray() || lb.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
        throw TypeErrorEx("fromPixels: labels must be an Int32Array");
      }
      args::Fields o(args::At(info, 2), "fromPixels options");
      const ImageShape shape{o.Int("channels", 1, 3), o.Int("height", kMinImageSide, kMaxImageSide),
                             o.Int("width", kMinImageSide, kMaxImageSide)};
      const std::string layout = o.String("layout");
      if (layout != "nchw" && layout != "nhwc") throw RangeErrorEx("fromPixels: layout must be 'nchw' or 'nhwc'");
      const int64_t classes = o.Int("classes", kMinDatasetClasses, kMaxDatasetClasses);
      auto pixels = px.As<Napi::Uint8Array>();
      auto labels = lb.As<Napi::Int32Array>();
      const auto n = static_cast<int64_t>(labels.ElementLength());
      if (n < 1 || static_cast<int64_t>(pixels.ElementLength()) != n * shape.Pixels()) {
        throw RangeErrorEx("fromPixels: " + std::to_string(n) + " labels need " + std::to_string(n * shape.Pixels()) +
                           " pixel values of " + shape.ToString() + " images, the array holds " +
                           std::to_string(pixels.ElementLength()));
      }
      const bool nhwc = layout == "nhwc";
      auto x = at::from_blob(pixels.Data(),
                             nhwc ? at::IntArrayRef{n, shape.height, shape.width, shape.channels}
                                  : at::IntArrayRef{n, shape.channels, shape.height, shape.width},
                             at::kByte)
                   .clone();
      auto y = at::from_blob(labels.Data(), {n}, at::kInt).clone();
      auto out = std::make_shared<std::shared_ptr<const Dataset>>();
      return TaskWorker::Run(
          info.Env(), "resnet-cifar:fromPixels",
          [x, y, nhwc, classes, out] {
            *out = DatasetFromPixels(nhwc ? x.permute({0, 3, 1, 2}).contiguous() : x, y.to(at::kLong), classes);
          },
          [out](Napi::Env env) -> Napi::Value { return NewWrapped<const Dataset>(Data(env).dataset_ctor, *out); });
    });
  }

  // loadIdx(images: string, labels: string, classes: number (0: the largest label + 1), maxBytes) -> Promise<Dataset>
  static Napi::Value LoadIdx(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      const std::string images = args::String(args::At(info, 0), "loadIdx: images");
      const std::string labels = args::String(args::At(info, 1), "loadIdx: labels");
      const int64_t classes = args::Int(args::At(info, 2), "loadIdx: classes", 0, kMaxDatasetClasses);
      const auto max_bytes = static_cast<uint64_t>(args::Int(args::At(info, 3), "loadIdx: maxBytes", 1));
      auto out = std::make_shared<std::shared_ptr<const Dataset>>();
      return TaskWorker::Run(
          info.Env(), "resnet-cifar:loadIdx",
          [images, labels, classes, max_bytes, out] {
            *out = resnet_cifar::LoadIdx(images, labels, classes, max_bytes);
          },
          [out](Napi::Env env) -> Napi::Value { return NewWrapped<const Dataset>(Data(env).dataset_ctor, *out); });
    });
  }

  // loadBatches(sources: (string | { name: string, data: Uint8Array })[], format?: 'cifar10' | 'cifar100-fine' |
  // 'cifar100-coarse') -> Promise<Dataset>; absent: CIFAR-10's.
  static Napi::Value LoadBatches(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      const Napi::Value list = args::At(info, 0);
      if (!list.IsArray()) throw TypeErrorEx("loadBatches: sources must be an array");
      auto arr = list.As<Napi::Array>();
      if (arr.Length() == 0 || arr.Length() > 1000) throw RangeErrorEx("loadBatches: 1 to 1000 sources");
      auto files = std::make_shared<std::vector<BatchFile>>();
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        const std::string what = "loadBatches: sources[" + std::to_string(i) + "]";
        Napi::Value e = arr.Get(i);
        if (e.IsString()) {
          files->push_back({e.As<Napi::String>().Utf8Value(), {}, false});
          continue;
        }
        args::Fields o(e, what);
        Napi::Value data = o.Get("data");
        if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
          throw TypeErrorEx(what + ".data must be a Uint8Array");
        }
        auto bytes = data.As<Napi::Uint8Array>();
        // Copied here: the worker thread must not touch JS memory.
        const char* p = reinterpret_cast<const char*>(bytes.Data());
        files->push_back({o.String("name"), std::vector<char>(p, p + bytes.ByteLength()), true});
      }
      const std::string format =
          args::At(info, 1).IsUndefined() ? "cifar10" : args::String(args::At(info, 1), "loadBatches: format");
      if (format != "cifar10" && format != "cifar100-fine" && format != "cifar100-coarse") {
        throw RangeErrorEx("loadBatches: format must be 'cifar10', 'cifar100-fine' or 'cifar100-coarse'");
      }
      auto out = std::make_shared<std::shared_ptr<const Dataset>>();
      return TaskWorker::Run(
          info.Env(), "resnet-cifar:loadBatches",
          [files, out, format] {
            *out = format == "cifar10" ? LoadCifarBatches(std::move(*files))
                                       : LoadCifar100(std::move(*files), format == "cifar100-fine");
          },
          [out](Napi::Env env) -> Napi::Value { return NewWrapped<const Dataset>(Data(env).dataset_ctor, *out); });
    });
  }

 private:
  std::shared_ptr<const Dataset> state_;
};

}  // namespace

Napi::Function DefineDataset(Napi::Env env) {
  return DatasetWrap::DefineClass(env, "Dataset",
                                  {
                                      DatasetWrap::InstanceMethod<&DatasetWrap::Length>("length"),
                                      DatasetWrap::InstanceMethod<&DatasetWrap::Shape>("shape"),
                                      DatasetWrap::InstanceMethod<&DatasetWrap::RepeatGrey>("repeatGrey"),
                                      DatasetWrap::InstanceMethod<&DatasetWrap::LabelCounts>("labelCounts"),
                                      DatasetWrap::InstanceMethod<&DatasetWrap::Slice>("slice"),
                                      DatasetWrap::InstanceMethod<&DatasetWrap::Images>("images"),
                                      DatasetWrap::InstanceMethod<&DatasetWrap::Statistics>("statistics"),
                                      DatasetWrap::StaticMethod<&DatasetWrap::LoadBatches>("loadBatches"),
                                      DatasetWrap::StaticMethod<&DatasetWrap::FromPixels>("fromPixels"),
                                      DatasetWrap::StaticMethod<&DatasetWrap::LoadIdx>("loadIdx"),
                                  });
}

std::shared_ptr<const Dataset> DatasetOf(const Napi::Value& v) {
  return StateOf<DatasetWrap, const Dataset>(v, Data(v.Env()).dataset_ctor, "Dataset");
}

}  // namespace resnet_cifar
