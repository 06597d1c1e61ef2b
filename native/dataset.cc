#include "dataset.h"

#include <cstring>
#include <sstream>

#include "addon.h"
#include "checkpoint.h"
#include "common.h"

namespace resnet_cifar {

static constexpr int64_t kRecord = 1 + 3 * 32 * 32;  // label byte + 3072 pixels
static constexpr int64_t kPerFile = 10000;

static torch::Tensor Floats(const Napi::Value& v, const std::string& what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw TypeErrorEx(what + " must be a Float32Array");
  }
  auto a = v.As<Napi::Float32Array>();
  auto t = torch::from_blob(a.Data(), {static_cast<int64_t>(a.ElementLength())}, torch::kFloat).clone();
  if (!torch::isfinite(t).all().item<bool>()) throw RangeErrorEx(what + " must hold finite numbers");
  return t;
}

Normalization ParseNormalization(const Napi::Value& mean, const Napi::Value& std, const std::string& what) {
  Normalization n;
  n.mean = Floats(mean, what + ": mean");
  n.std = Floats(std, what + ": std");
  if (n.mean.numel() == 3) {
    n.mean = n.mean.view({1, 3, 1, 1});
  } else if (n.mean.numel() == 3 * 32 * 32) {
    n.mean = n.mean.view({1, 3, 32, 32});
  } else {
    throw RangeErrorEx(what + ": mean must have 3 or 3072 values, received " + std::to_string(n.mean.numel()));
  }
  if (n.std.numel() != 3) throw RangeErrorEx(what + ": std must have 3 values, received " + std::to_string(n.std.numel()));
  if (!(n.std > 0).all().item<bool>()) throw RangeErrorEx(what + ": std must be positive");
  n.std = n.std.view({1, 3, 1, 1});
  return n;
}

torch::Tensor NormalizeBatch(const torch::Tensor& images_u8, const Normalization& norm) {
  const auto dev = images_u8.device();
  return images_u8.to(torch::kFloat).div_(255.0).sub_(norm.mean.to(dev)).div_(norm.std.to(dev));
}

EvalResult EvaluateWith(const std::function<torch::Tensor(const torch::Tensor&)>& forward, torch::Device device,
                        const torch::Tensor& images, const torch::Tensor& labels, int64_t batch,
                        const Normalization& norm, int64_t classes) {
  torch::NoGradGuard no_grad;
  Normalization on_dev{norm.mean.to(device), norm.std.to(device)};
  auto confusion = torch::zeros({classes * classes}, torch::TensorOptions().dtype(torch::kLong).device(device));
  auto loss = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device));
  const int64_t n = labels.size(0);
  for (int64_t i = 0; i < n; i += batch) {
    const int64_t b = std::min(batch, n - i);
    auto x = NormalizeBatch(images.narrow(0, i, b).to(device), on_dev);
    auto y = labels.narrow(0, i, b).to(device);
    auto logits = forward(x);
    if (logits.dim() != 2 || logits.size(0) != b || logits.size(1) != classes) {
      std::ostringstream s;
      s << "Expected logits of shape [" << b << ", " << classes << "] but the model returned " << logits.sizes();
      throw std::runtime_error(s.str());
    }
    logits = logits.to(torch::kFloat);
    loss += torch::nn::functional::cross_entropy(
                logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                .to(torch::kDouble);
    confusion += torch::bincount(y * classes + logits.argmax(1), {}, classes * classes);
  }
  EvalResult r;
  auto c = confusion.to(torch::kCPU);
  r.confusion.assign(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
  r.loss_sum = loss.item<double>();
  r.count = n;
  return r;
}

Napi::Value EvalResultToJs(Napi::Env env, const EvalResult& r) {
  auto o = Napi::Object::New(env);
  o.Set("count", static_cast<double>(r.count));
  o.Set("lossSum", r.loss_sum);
  auto c = Napi::Array::New(env, r.confusion.size());
  for (size_t i = 0; i < r.confusion.size(); ++i) c.Set(static_cast<uint32_t>(i), static_cast<double>(r.confusion[i]));
  o.Set("confusion", c);
  return o;
}

Napi::Function DatasetWrap::Define(Napi::Env env) {
  return DefineClass(env, "Dataset",
                     {
                         InstanceMethod<&DatasetWrap::Length>("length"),
                         InstanceMethod<&DatasetWrap::LabelCounts>("labelCounts"),
                         InstanceMethod<&DatasetWrap::Slice>("slice"),
                         InstanceMethod<&DatasetWrap::Images>("images"),
                         InstanceMethod<&DatasetWrap::ChannelStats>("channelStats"),
                         InstanceMethod<&DatasetWrap::PixelMean>("pixelMean"),
                         StaticMethod<&DatasetWrap::LoadBatches>("loadBatches"),
                     });
}

Napi::Object DatasetWrap::Wrap(Napi::Env env, std::shared_ptr<DatasetState> state) {
  return NewWrapped(env, env.GetInstanceData<AddonData>()->dataset_ctor, std::move(state));
}

std::shared_ptr<DatasetState> DatasetWrap::StateOf(const Napi::Value& v) {
  auto ctor = v.Env().GetInstanceData<AddonData>()->dataset_ctor.Value();
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(ctor)) throw TypeErrorEx("Expected a native Dataset");
  return Napi::ObjectWrap<DatasetWrap>::Unwrap(v.As<Napi::Object>())->state_;
}

DatasetWrap::DatasetWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DatasetWrap>(info) {
  Guard(info, [&]() -> Napi::Value {
    state_ = AdoptedState<DatasetState>(info);
    if (!state_) throw TypeErrorEx("Datasets are made by Dataset.loadBatches");
    return info.Env().Undefined();
  });
}

Napi::Value DatasetWrap::Length(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(state_->labels.size(0)));
}

Napi::Value DatasetWrap::LabelCounts(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const int64_t classes = ArgInt(info, 0, "labelCounts: classes");
    auto counts = torch::bincount(state_->labels, {}, classes);
    auto arr = Napi::Array::New(info.Env(), classes);
    auto acc = counts.accessor<int64_t, 1>();
    for (int64_t i = 0; i < classes; ++i) arr.Set(static_cast<uint32_t>(i), static_cast<double>(acc[i]));
    return arr;
  });
}

// slice(start, end) -> Dataset sharing this one's memory.
Napi::Value DatasetWrap::Slice(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const int64_t n = state_->labels.size(0);
    const int64_t start = ArgInt(info, 0, "slice: start"), end = ArgInt(info, 1, "slice: end");
    if (start < 0 || end > n || start >= end) {
      throw RangeErrorEx("slice(" + std::to_string(start) + ", " + std::to_string(end) + ") is outside 0.." +
                         std::to_string(n));
    }
    auto s = std::make_shared<DatasetState>();
    s->images = state_->images.narrow(0, start, end - start);
    s->labels = state_->labels.narrow(0, start, end - start);
    return Wrap(info.Env(), s);
  });
}

// images(start, count) -> { pixels: Uint8Array (count*3072), labels: Uint8Array }
Napi::Value DatasetWrap::Images(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const int64_t n = state_->labels.size(0);
    const int64_t start = ArgInt(info, 0, "images: start"), count = ArgInt(info, 1, "images: count");
    if (start < 0 || count < 1 || start + count > n) throw RangeErrorEx("images: range outside the dataset");
    auto px = state_->images.narrow(0, start, count).contiguous();
    auto lb = state_->labels.narrow(0, start, count).to(torch::kUInt8).contiguous();
    auto o = Napi::Object::New(info.Env());
    auto p = Napi::Uint8Array::New(info.Env(), px.numel());
    std::memcpy(p.Data(), px.data_ptr<uint8_t>(), px.numel());
    auto l = Napi::Uint8Array::New(info.Env(), lb.numel());
    std::memcpy(l.Data(), lb.data_ptr<uint8_t>(), lb.numel());
    o.Set("pixels", p);
    o.Set("labels", l);
    return o;
  });
}

// channelStats() -> Promise<{ mean: number[3], std: number[3] }> of pixels / 255
Napi::Value DatasetWrap::ChannelStats(const Napi::CallbackInfo& info) {
  auto s = state_;
  auto out = std::make_shared<std::vector<double>>();
  return TaskWorker::Run(
      info.Env(), "resnet-cifar:channelStats",
      [s, out]() {
        torch::NoGradGuard g;
        auto x = s->images.to(torch::kDouble).div_(255.0);
        auto mean = x.mean({0, 2, 3}), stdev = x.std({0, 2, 3}, /*unbiased=*/false);
        for (int c = 0; c < 3; ++c) out->push_back(mean[c].item<double>());
        for (int c = 0; c < 3; ++c) out->push_back(stdev[c].item<double>());
      },
      [out](Napi::Env env) -> Napi::Value {
        auto o = Napi::Object::New(env);
        auto m = Napi::Array::New(env, 3), sd = Napi::Array::New(env, 3);
        for (uint32_t c = 0; c < 3; ++c) {
          m.Set(c, (*out)[c]);
          sd.Set(c, (*out)[3 + c]);
        }
        o.Set("mean", m);
        o.Set("std", sd);
        return o;
      });
}

// pixelMean() -> Promise<Float32Array(3072)>: the paper's per-pixel mean of pixels / 255.
Napi::Value DatasetWrap::PixelMean(const Napi::CallbackInfo& info) {
  auto s = state_;
  auto out = std::make_shared<torch::Tensor>();
  return TaskWorker::Run(
      info.Env(), "resnet-cifar:pixelMean",
      [s, out]() {
        torch::NoGradGuard g;
        *out = s->images.to(torch::kDouble).mean(0).div_(255.0).to(torch::kFloat).contiguous();
      },
      [out](Napi::Env env) -> Napi::Value {
        auto a = Napi::Float32Array::New(env, out->numel());
        std::memcpy(a.Data(), out->data_ptr<float>(), out->numel() * sizeof(float));
        return a;
      });
}

// loadBatches(sources: (string | { name: string, data: Uint8Array })[]) -> Promise<Dataset>: CIFAR-10 binary
// batch files (paths, or bytes already in memory, e.g. from the .tar.gz), 10,000 records each.
Napi::Value DatasetWrap::LoadBatches(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const char* usage = "loadBatches expects an array of paths or { name, data: Uint8Array } objects";
    if (info.Length() < 1 || !info[0].IsArray()) throw TypeErrorEx(usage);
    auto arr = info[0].As<Napi::Array>();
    std::vector<std::string> paths;
    auto buffers = std::make_shared<std::vector<std::vector<char>>>();
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      auto e = arr.Get(i);
      if (e.IsString()) {
        paths.push_back(e.As<Napi::String>().Utf8Value());
        buffers->emplace_back();
        continue;
      }
      if (!e.IsObject()) throw TypeErrorEx(usage);
      auto o = e.As<Napi::Object>();
      auto name = o.Get("name"), data = o.Get("data");
      if (!name.IsString() || !data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
        throw TypeErrorEx(usage);
      }
      auto bytes = data.As<Napi::Uint8Array>();
      paths.push_back(name.As<Napi::String>().Utf8Value());
      // Copied here: the worker thread must not touch JS memory.
      buffers->emplace_back(reinterpret_cast<const char*>(bytes.Data()),
                            reinterpret_cast<const char*>(bytes.Data()) + bytes.ByteLength());
    }
    std::vector<bool> in_memory;
    for (uint32_t i = 0; i < arr.Length(); ++i) in_memory.push_back(!arr.Get(i).IsString());
    if (paths.empty()) throw RangeErrorEx("loadBatches needs at least one file");
    auto state = std::make_shared<DatasetState>();
    return TaskWorker::Run(
        info.Env(), "resnet-cifar:loadBatches",
        [paths, buffers, in_memory, state]() {
          const int64_t n = kPerFile * static_cast<int64_t>(paths.size());
          auto images = torch::empty({n, 3, 32, 32}, torch::kUInt8);
          auto labels = torch::empty({n}, torch::kLong);
          uint8_t* px = images.data_ptr<uint8_t>();
          int64_t* lb = labels.data_ptr<int64_t>();
          for (size_t f = 0; f < paths.size(); ++f) {
            std::vector<char> data = in_memory[f] ? std::move((*buffers)[f]) : ReadFile(paths[f]);
            const int64_t expected = kPerFile * kRecord;
            if (static_cast<int64_t>(data.size()) != expected) {
              throw std::runtime_error(paths[f] + " has " + std::to_string(data.size()) + " bytes, expected " +
                                       std::to_string(expected) + " (10000 records of 3073 bytes)");
            }
            for (int64_t r = 0; r < kPerFile; ++r) {
              const auto* rec = reinterpret_cast<const uint8_t*>(data.data()) + r * kRecord;
              if (rec[0] > 9) {
                throw std::runtime_error(paths[f] + ": record " + std::to_string(r) + " has label " +
                                         std::to_string(rec[0]) + " (expected 0-9)");
              }
              const int64_t i = static_cast<int64_t>(f) * kPerFile + r;
              lb[i] = rec[0];
              std::memcpy(px + i * (kRecord - 1), rec + 1, kRecord - 1);
            }
          }
          state->images = images;
          state->labels = labels;
        },
        [state](Napi::Env env) -> Napi::Value { return Wrap(env, state); });
  });
}

}  // namespace resnet_cifar
