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
  const int64_t n = images_u8.size(0), c = images_u8.size(1), h = images_u8.size(2), w = images_u8.size(3);
  auto sum = at::zeros({1, c, h, w}, at::kDouble);
  auto sq = at::zeros({1, c, 1, 1}, at::kDouble);
  for (int64_t i = 0; i < n; i += kChunk) {
    auto x = images_u8.narrow(0, i, std::min(kChunk, n - i)).to(at::kDouble);
    sum += x.sum(0, /*keepdim=*/true);
    if (kind == NormKind::kChannel) sq += x.pow(2).sum({0, 2, 3}, /*keepdim=*/true);
  }
  Normalization out;
  out.kind = kind;
  if (kind == NormKind::kPixel) {
    out.mean = (sum / static_cast<double>(n) / 255.0).to(at::kFloat).contiguous();
    out.std = at::ones({1, c, 1, 1}, at::kFloat);
  } else {
    const double count = static_cast<double>(n) * static_cast<double>(h * w);
    auto mean = sum.sum({2, 3}, /*keepdim=*/true) / count / 255.0;
    auto var = (sq / count / (255.0 * 255.0) - mean * mean).clamp_min(0);  // population variance of pixels / 255
    out.mean = mean.to(at::kFloat).contiguous();
    out.std = var.sqrt().to(at::kFloat).contiguous();
  }
  return out;
}

Normalization Normalization::FromValues(NormKind kind, const std::vector<float>& mean, const std::vector<float>& std,
                                        const std::optional<ImageShape>& shape) {
  const int64_t c = static_cast<int64_t>(std.size());
  const int64_t m = static_cast<int64_t>(mean.size());
  const std::string what = std::string(NormKindName(kind)) + " normalization";
  if (c != 1 && c != 3) {
    throw std::invalid_argument(what + " needs 1 or 3 std values (one per channel), got " + std::to_string(c));
  }
  int64_t h = 1, w = 1;
  if (kind == NormKind::kPixel) {
    if (shape) {
      h = shape->height;
      w = shape->width;
    } else {
      const int64_t plane = m / c;
      h = w = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(plane))));
    }
    const bool fits = (!shape || shape->channels == c) && h * w * c == m && h >= kMinImageSide && h <= kMaxImageSide &&
                      w >= kMinImageSide && w <= kMaxImageSide;
    if (!fits) {
      throw std::invalid_argument(what + " needs C x H x W mean values for " + std::to_string(c) +
                                  " channels and sides of " + std::to_string(kMinImageSide) + " to " +
                                  std::to_string(kMaxImageSide) + (shape ? " (" + shape->ToString() + ")" : "") +
                                  ", got " + std::to_string(m));
    }
  } else if (m != c) {
    throw std::invalid_argument(what + " needs " + std::to_string(c) + " mean values and " + std::to_string(c) +
                                " std values, got " + std::to_string(m) + " and " + std::to_string(c));
  }
  for (float s : std) {
    if (!(s > 0) || !std::isfinite(s))
      throw std::invalid_argument("normalization std values must be positive and finite");
  }
  for (float v : mean) {
    if (!std::isfinite(v)) throw std::invalid_argument("normalization mean values must be finite");
  }
  Normalization n;
  n.kind = kind;
  n.mean = at::tensor(mean, at::kFloat).view({1, c, h, w});
  n.std = at::tensor(std, at::kFloat).view({1, c, 1, 1});
  return n;
}

std::optional<ImageShape> Normalization::PixelShape() const {
  if (kind != NormKind::kPixel) return std::nullopt;
  return ImageShape{mean.size(1), mean.size(2), mean.size(3)};
}

void Normalization::CheckFits(const ImageShape& shape) const {
  if (Channels() != shape.channels) {
    throw std::invalid_argument("the normalization has " + std::to_string(Channels()) +
                                " channel(s) but the images have " + std::to_string(shape.channels));
  }
  if (auto p = PixelShape(); p && *p != shape) {
    throw std::invalid_argument("the per-pixel mean is of " + p->ToString() + " images but these are " +
                                shape.ToString());
  }
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
  if (auto p = PixelShape(); p && p->height != p->width) {
    c10::impl::GenericList l(c10::AnyType::get());
    for (int64_t v : {p->channels, p->height, p->width}) l.push_back(v);
    d.insert(std::string("shape"), l);
  }
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
    std::optional<ImageShape> shape;
    if (auto it = d.find(std::string("shape")); it != d.end()) {
      const c10::IValue& l = it->value();
      if (!l.isList() || l.toListRef().size() != 3) throw std::runtime_error(bad);
      int64_t v[3];
      for (size_t i = 0; i < 3; ++i) {
        if (!l.toListRef()[i].isInt()) throw std::runtime_error(bad);
        v[i] = l.toListRef()[i].toInt();
      }
      shape = ImageShape{v[0], v[1], v[2]};
    }
    return FromValues(k, mean, sd, shape);
  } catch (const std::invalid_argument&) {
    throw std::runtime_error(bad);
  }
}

}  // namespace resnet_cifar
