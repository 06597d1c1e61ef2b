#include "normalization.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace resnet_cifar {

NormKind ParseNormKind(const std::string& s) {
  if (s == "pixel") return NormKind::kPixel;
  if (s == "channel") return NormKind::kChannel;
  throw std::invalid_argument("unknown normalization kind '" + s + "'");
}

const char* NormKindName(NormKind k) { return k == NormKind::kPixel ? "pixel" : "channel"; }

// In chunks of images, so that the double copy stays small (the whole training set in double would be 1.2 GB).
Normalization Normalization::Of(NormKind kind, const at::Tensor& images_u8) {
  c10::NoGradGuard no_grad;
  constexpr int64_t kChunk = 1024;
  const int64_t n = images_u8.size(0);
  auto sum = at::zeros({1, 3, 32, 32}, at::kDouble);
  auto sq = at::zeros({1, 3, 1, 1}, at::kDouble);
  for (int64_t i = 0; i < n; i += kChunk) {
    auto x = images_u8.narrow(0, i, std::min(kChunk, n - i)).to(at::kDouble);
    sum += x.sum(0, /*keepdim=*/true);
    if (kind == NormKind::kChannel) sq += x.pow(2).sum({0, 2, 3}, /*keepdim=*/true);
  }
  Normalization out;
  out.kind = kind;
  if (kind == NormKind::kPixel) {
    out.mean = (sum / static_cast<double>(n) / 255.0).to(at::kFloat).contiguous();
    out.std = at::ones({1, 3, 1, 1}, at::kFloat);
  } else {
    const double count = static_cast<double>(n) * 32 * 32;
    auto mean = sum.sum({2, 3}, /*keepdim=*/true) / count / 255.0;
    auto var = (sq / count / (255.0 * 255.0) - mean * mean).clamp_min(0);  // population variance of pixels / 255
    out.mean = mean.to(at::kFloat).contiguous();
    out.std = var.sqrt().to(at::kFloat).contiguous();
  }
  return out;
}

Normalization Normalization::FromValues(NormKind kind, const std::vector<float>& mean, const std::vector<float>& std) {
  const size_t want = kind == NormKind::kPixel ? 3 * 32 * 32 : 3;
  if (mean.size() != want || std.size() != 3) {
    throw std::invalid_argument(std::string(NormKindName(kind)) + " normalization needs " + std::to_string(want) +
                                " mean values and 3 std values, got " + std::to_string(mean.size()) + " and " +
                                std::to_string(std.size()));
  }
  for (float s : std) {
    if (!(s > 0) || !std::isfinite(s))
      throw std::invalid_argument("normalization std values must be positive and finite");
  }
  for (float m : mean) {
    if (!std::isfinite(m)) throw std::invalid_argument("normalization mean values must be finite");
  }
  Normalization n;
  n.kind = kind;
  n.mean = at::tensor(mean, at::kFloat)
               .view(kind == NormKind::kPixel ? at::IntArrayRef{1, 3, 32, 32} : at::IntArrayRef{1, 3, 1, 1});
  n.std = at::tensor(std, at::kFloat).view({1, 3, 1, 1});
  return n;
}

at::Tensor Normalization::Apply(const at::Tensor& images_u8) const {
  const auto dev = images_u8.device();
  return images_u8.to(at::kFloat).div_(255.0).sub_(mean.to(dev)).div_(std.to(dev));
}

static std::vector<float> Values(const at::Tensor& t) {
  auto c = t.to(at::kCPU).to(at::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

std::vector<float> Normalization::MeanValues() const { return Values(mean); }
std::vector<float> Normalization::StdValues() const { return Values(std); }

static c10::impl::GenericList DoubleList(const std::vector<float>& v) {
  // Plain (generic) lists: typed ones pickle as torch.jit._pickle.build_doublelist, which weights_only refuses.
  c10::impl::GenericList l(c10::AnyType::get());
  for (float x : v) l.push_back(static_cast<double>(x));
  return l;
}

c10::impl::GenericDict Normalization::ToDict() const {
  c10::impl::GenericDict d(c10::StringType::get(), c10::AnyType::get());
  d.insert(std::string("kind"), std::string(NormKindName(kind)));
  d.insert(std::string("mean"), DoubleList(MeanValues()));
  d.insert(std::string("std"), DoubleList(StdValues()));
  return d;
}

Normalization Normalization::FromDict(const c10::IValue& v, const std::string& source) {
  const std::string bad = source + ": its normalization is malformed (expected {kind: 'pixel' | 'channel', mean, std})";
  if (!v.isGenericDict()) throw std::runtime_error(bad);
  auto d = v.toGenericDict();
  auto field = [&](const char* k) -> c10::IValue {
    auto it = d.find(std::string(k));
    if (it == d.end()) throw std::runtime_error(bad);
    return it->value();
  };
  auto floats = [&](const c10::IValue& l) {
    if (!l.isList()) throw std::runtime_error(bad);
    std::vector<float> out;
    for (const auto& e : l.toListRef()) {
      if (!e.isDouble() && !e.isInt()) throw std::runtime_error(bad);
      out.push_back(static_cast<float>(e.isDouble() ? e.toDouble() : static_cast<double>(e.toInt())));
    }
    return out;
  };
  const c10::IValue kind = field("kind");
  if (!kind.isString()) throw std::runtime_error(bad);
  try {
    const NormKind k = ParseNormKind(kind.toStringRef());
    std::vector<float> mean = floats(field("mean"));
    std::vector<float> sd = floats(field("std"));
    return FromValues(k, mean, sd);
  } catch (const std::invalid_argument&) {
    throw std::runtime_error(bad);
  }
}

}  // namespace resnet_cifar
