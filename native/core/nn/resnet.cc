#include "resnet.h"

#include <torch/csrc/autograd/custom_function.h>
#include <torch/nn/init.h>

#include <algorithm>
#include <stdexcept>

#include "fused_bn.h"
#include "sync_bn.h"

namespace resnet_cifar {

Shortcut ParseShortcut(const std::string& s) {
  if (s == "A") return Shortcut::A;
  if (s == "B") return Shortcut::B;
  if (s == "plain") return Shortcut::Plain;
  throw std::invalid_argument("Expected shortcut 'A', 'B' or 'plain' but received '" + s + "'");
}

std::string ShortcutName(Shortcut s) {
  switch (s) {
    case Shortcut::A: return "A";
    case Shortcut::B: return "B";
    default: return "plain";
  }
}

const std::vector<std::string>& StageNames() {
  static const std::vector<std::string> names = {"stem", "block1", "block2", "block3", "fc"};
  return names;
}

std::vector<std::string> StageModules(const std::string& stage) {
  if (stage == "stem") return {"conv", "bn"};
  for (const auto& s : StageNames()) {
    if (s == stage) return {stage};
  }
  throw std::invalid_argument("unknown stage '" + stage + "' (expected stem, block1, block2, block3 or fc)");
}

std::string StageOf(const std::string& name) {
  const std::string head = name.substr(0, name.find('.'));
  return head == "conv" || head == "bn" ? "stem" : head;
}

std::string DescribeModel(const ResNetOptions& o) {
  return "ResNet-" + std::to_string(o.depth()) + " (shortcut " + ShortcutName(o.shortcut()) + ", " +
         std::to_string(o.num_classes()) + " classes" + (o.in_channels() == 1 ? ", grey input" : "") + ")";
}

static torch::nn::Conv2d Conv(int64_t in, int64_t out, int64_t k, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false));
}

BasicBlockImpl::BasicBlockImpl(int64_t in_planes_, int64_t planes_, int64_t stride_, Shortcut shortcut)
    : kind(shortcut), in_planes(in_planes_), planes(planes_), stride(stride_) {
  conv1 = register_module("conv1", Conv(in_planes, planes, 3, stride));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
  conv2 = register_module("conv2", Conv(planes, planes, 3, 1));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
  if (kind == Shortcut::B && (stride != 1 || in_planes != planes)) {
    projection = register_module(
        "shortcut", torch::nn::Sequential(Conv(in_planes, planes, 1, stride), torch::nn::BatchNorm2d(planes)));
  }
}

// relu(bn(x) [+ residual]) in training or eval mode, by the path `p` says.
static torch::Tensor BnRelu(const torch::Tensor& x, torch::nn::BatchNorm2d& bn, const BatchNormPath& p,
                            const torch::Tensor& residual = {}) {
  if (p.fused && FusedBnApplies(x, bn)) return FusedBnRelu(x, bn, residual, p.sync.get());
  if (p.sync && bn->is_training()) {
    auto y = SyncBatchNorm(x, *bn, *p.sync);
    if (residual.defined()) y.add_(residual.to(y.scalar_type()));
    return y.relu_();
  }
  auto y = bn(x);
  if (residual.defined()) y.add_(residual);  // in place: BN saves its input, not its output
  return y.relu_();
}

// Option A's shortcut where the shape changes: x subsampled by `stride` and zero-padded to `planes` channels, as one
// autograd function. libtorch's slice + pad would make the gradient with two zero-filled full-size tensors and
// two strided copies, in NCHW order whatever x's layout (so the next fused BatchNorm kernel copies it again to
// channels-last); here one zero-filled tensor in x's own layout and one copy. Pure copies both ways: the same bits.
torch::Tensor SubsamplePad(const torch::Tensor& x, int64_t stride, int64_t planes) {
  auto sub = x.slice(2, 0, c10::nullopt, stride).slice(3, 0, c10::nullopt, stride);
  auto out = at::empty({x.size(0), planes, sub.size(2), sub.size(3)}, x.options(), x.suggest_memory_format()).zero_();
  out.narrow(1, 0, x.size(1)).copy_(sub);
  return out;
}

struct SubsamplePadFunction : torch::autograd::Function<SubsamplePadFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, int64_t stride,
                               int64_t planes) {
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["sizes"] = x.sizes().vec();
    ctx->saved_data["format"] = static_cast<int64_t>(x.suggest_memory_format());
    return SubsamplePad(x, stride, planes);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const int64_t stride = ctx->saved_data["stride"].toInt();
    const auto sizes = ctx->saved_data["sizes"].toIntVector();
    const auto format = static_cast<torch::MemoryFormat>(ctx->saved_data["format"].toInt());
    const auto& g = grads[0];
    auto gx = at::empty(sizes, g.options(), format).zero_();
    gx.slice(2, 0, c10::nullopt, stride).slice(3, 0, c10::nullopt, stride).copy_(g.narrow(1, 0, sizes[1]));
    return {gx, torch::Tensor(), torch::Tensor()};
  }
};

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  auto h = BnRelu(conv1(x), bn1, bn_path);
  auto z = conv2(h);
  if (kind == Shortcut::Plain) return BnRelu(z, bn2, bn_path);
  torch::Tensor s = x;
  if (projection) {
    auto* bn = projection[1]->as<torch::nn::BatchNorm2d>();
    if (bn_path.sync && bn->is_training()) {
      s = SyncBatchNorm(projection[0]->as<torch::nn::Conv2d>()->forward(x), *bn, *bn_path.sync);
    } else {
      s = projection->forward(x);
    }
  } else if (stride != 1 || in_planes != planes) {
    // Option A: subsample by the stride, zero-pad the new channels (no parameters).
    s = SubsamplePadFunction::apply(x, stride, planes);
  }
  return BnRelu(z, bn2, bn_path, s);
}

static torch::nn::Sequential Stage(int64_t in, int64_t out, int64_t n, int64_t stride, Shortcut sc) {
  torch::nn::Sequential seq;
  seq->push_back(BasicBlock(in, out, stride, sc));
  for (int64_t i = 1; i < n; ++i) seq->push_back(BasicBlock(out, out, 1, sc));
  return seq;
}

ResNetImpl::ResNetImpl(const ResNetOptions& opts) : options(opts) {
  const int64_t depth = options.depth();
  if (depth < kMinDepth || (depth - 2) % 6 != 0 || depth > kMaxDepth) {
    throw std::invalid_argument("Expected depth of the form 6n+2 between " + std::to_string(kMinDepth) + " and " +
                                std::to_string(kMaxDepth) + " but received " + std::to_string(depth));
  }
  if (options.num_classes() < 1 || options.num_classes() > kMaxClasses) {
    throw std::invalid_argument("Expected num_classes between 1 and " + std::to_string(kMaxClasses) + " but received " +
                                std::to_string(options.num_classes()));
  }
  if (options.in_channels() != 1 && options.in_channels() != 3) {
    throw std::invalid_argument("Expected in_channels 1 or 3 but received " + std::to_string(options.in_channels()));
  }
  const int64_t n = (depth - 2) / 6;
  conv = register_module("conv", Conv(options.in_channels(), 16, 3, 1));
  bn = register_module("bn", torch::nn::BatchNorm2d(16));
  block1 = register_module("block1", Stage(16, 16, n, 1, options.shortcut()));
  block2 = register_module("block2", Stage(16, 32, n, 2, options.shortcut()));
  block3 = register_module("block3", Stage(32, 64, n, 2, options.shortcut()));
  fc = register_module("fc", torch::nn::Linear(64, options.num_classes()));
}

torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  x = conv(x);
  x = BnRelu(x, bn, bn_path);
  x = block3->forward(block2->forward(block1->forward(x)));
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return fc(x);
}

std::vector<std::pair<std::string, std::string>> ResNetImpl::ConvBnPairs() const {
  std::vector<std::pair<std::string, std::string>> out{{"conv", "bn"}};
  const torch::nn::Sequential* stages[] = {&block1, &block2, &block3};
  for (int s = 0; s < 3; ++s) {
    const auto& seq = *stages[s];
    for (size_t i = 0; i < seq->size(); ++i) {
      const std::string p = "block" + std::to_string(s + 1) + "." + std::to_string(i) + ".";
      out.emplace_back(p + "conv1", p + "bn1");
      out.emplace_back(p + "conv2", p + "bn2");
      if (seq->ptr<BasicBlockImpl>(i)->projection) out.emplace_back(p + "shortcut.0", p + "shortcut.1");
    }
  }
  return out;
}

void ResNetImpl::SetFusedBatchNorm(bool on) {
  BatchNormPath p = bn_path;
  p.fused = on;
  SetPath(p);
}

void ResNetImpl::SetBatchNormSync(std::shared_ptr<const AllReduceSum> all_reduce) {
  BatchNormPath p = bn_path;
  p.sync = std::move(all_reduce);
  SetPath(p);
}

void ResNetImpl::SetFrozen(const std::vector<std::string>& stages) {
  for (const auto& s : stages) (void)StageModules(s);  // each a stage
  frozen_ = stages;
  auto frozen = [&](const std::string& name) {
    return std::find(frozen_.begin(), frozen_.end(), StageOf(name)) != frozen_.end();
  };
  for (auto& p : named_parameters()) p.value().requires_grad_(!frozen(p.key()));
  train(is_training());
}

void ResNetImpl::train(bool on) {
  torch::nn::Module::train(on);
  if (!on || frozen_.empty()) return;
  for (const auto& m : named_modules("", /*include_self=*/false)) {
    if (m.value()->as<torch::nn::BatchNorm2d>() &&
        std::find(frozen_.begin(), frozen_.end(), StageOf(m.key())) != frozen_.end()) {
      m.value()->eval();
    }
  }
}

void ResNetImpl::ReplaceHead(int64_t num_classes) {
  if (num_classes < 1 || num_classes > kMaxClasses) {
    throw std::invalid_argument("Expected num_classes between 1 and " + std::to_string(kMaxClasses) + " but received " +
                                std::to_string(num_classes));
  }
  const auto device = fc->weight.device();
  fc = replace_module("fc", torch::nn::Linear(64, num_classes));
  fc->to(device);
  fc->train(is_training());
  options.num_classes(num_classes);
}

void ResNetImpl::SetPath(const BatchNormPath& p) {
  bn_path = p;
  for (const auto& seq : {block1, block2, block3}) {
    for (size_t i = 0; i < seq->size(); ++i) seq->ptr<BasicBlockImpl>(i)->bn_path = p;
  }
}

int64_t ResNetImpl::ParameterCount() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

void InitWeights(ResNet& net) {
  torch::NoGradGuard no_grad;
  for (auto& m : net->modules(/*include_self=*/false)) {
    if (auto* c = m->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* b = m->as<torch::nn::BatchNorm2d>()) {
      torch::nn::init::ones_(b->weight);
      torch::nn::init::zeros_(b->bias);
    }
  }
}

}  // namespace resnet_cifar
