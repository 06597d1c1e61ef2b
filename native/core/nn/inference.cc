#include "inference.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

namespace resnet_cifar {

static FoldedConv FoldConv(const torch::nn::Conv2d& conv, const torch::nn::BatchNorm2d& bn) {
  // scale = γ / sqrt(σ² + ε); w' = w · scale per output channel, written straight into a channels-last tensor (one
  // allocation per weight: a model folded and dropped leaves little behind); b' = β - μ · scale (+ b · scale).
  const auto scale = (bn->running_var + bn->options.eps()).rsqrt_().mul_(bn->weight);
  FoldedConv f;
  f.weight = at::empty_like(conv->weight, at::MemoryFormat::ChannelsLast);
  at::mul_out(f.weight, conv->weight, scale.view({-1, 1, 1, 1}));
  f.bias = bn->bias - bn->running_mean * scale;
  if (conv->bias.defined()) f.bias.add_(conv->bias * scale);
  f.stride = conv->options.stride()->at(0);
  f.padding = std::get<torch::ExpandingArray<2>>(conv->options.padding())->at(0);
  return f;
}

std::shared_ptr<const FoldedNet> Fold(ResNetImpl& net) {
  c10::InferenceMode guard;
  auto f = std::make_shared<FoldedNet>();
  f->stem = FoldConv(net.conv, net.bn);
  for (const auto* stage : {&net.block1, &net.block2, &net.block3}) {
    for (size_t i = 0; i < (*stage)->size(); ++i) {
      auto* b = (*stage)->ptr<BasicBlockImpl>(i).get();
      FoldedBlock fb;
      fb.conv1 = FoldConv(b->conv1, b->bn1);
      fb.conv2 = FoldConv(b->conv2, b->bn2);
      fb.plain = b->kind == Shortcut::Plain;
      if (b->projection) {
        fb.projection = FoldConv(
            torch::nn::Conv2d(std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(b->projection->ptr(0))),
            torch::nn::BatchNorm2d(std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(b->projection->ptr(1))));
      } else if (!fb.plain && (b->stride != 1 || b->in_planes != b->planes)) {
        fb.subsample = b->stride;
        fb.planes = b->planes;
      }
      f->blocks.push_back(std::move(fb));
    }
  }
  f->fc_weight = net.fc->weight;  // used as they are
  f->fc_bias = net.fc->bias;
  return f;
}

static at::Tensor Conv(const at::Tensor& x, const FoldedConv& c) {
  return at::conv2d(x, c.weight, c.bias, {c.stride, c.stride}, {c.padding, c.padding});
}

at::Tensor FoldedForward(const FoldedNet& f, const at::Tensor& images) {
  c10::InferenceMode guard;
  auto x = Conv(images.contiguous(at::MemoryFormat::ChannelsLast), f.stem).relu_();
  for (const auto& b : f.blocks) {
    auto z = Conv(Conv(x, b.conv1).relu_(), b.conv2);
    if (b.plain) {
      x = z.relu_();
      continue;
    }
    const at::Tensor s = b.projection       ? Conv(x, *b.projection)
                         : b.subsample != 1 ? SubsamplePad(x, b.subsample, b.planes)
                                            : x;
    x = z.add_(s).relu_();
  }
  return at::linear(x.mean({2, 3}), f.fc_weight, f.fc_bias);
}

}  // namespace resnet_cifar
