// Test hooks: native functions that exist so that tests can hold a kernel against a reference. Compiled only in a
// checkout with its tests (RESNET_CIFAR_TEST_HOOKS, set by CMakeLists.txt and binding.gyp): not in an installed addon.
#ifdef RESNET_CIFAR_TEST_HOOKS
#include <napi.h>
#include <torch/torch.h>

#include "../core/nn/fused_bn.h"
#include "addon.h"
#include "args.h"
#include "convert.h"
#include "guard.h"

namespace resnet_cifar {

namespace {

// A Float32Array field of exactly `numel` values, as a float tensor.
at::Tensor FieldTensor(const args::Fields& o, const char* key, int64_t numel) {
  std::vector<float> v = o.Floats(key);
  if (static_cast<int64_t>(v.size()) != numel) {
    throw RangeErrorEx(o.Name(key) + " must hold " + std::to_string(numel) + " values but holds " +
                       std::to_string(v.size()));
  }
  return at::tensor(v, at::kFloat);
}

}  // namespace

// batchNormRelu({ x, shape, weight, bias, grad, residual?, bf16? }, fused) -> outputs and gradients: one train-mode
// BN + ReLU (+ residual) forward and backward through the fused kernels or libtorch's modules; with bf16 the
// activations (x, grad, residual) are rounded to bfloat16 and the layer runs on them (weights stay float32).
Napi::Value BatchNormRelu(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    args::Fields o(args::At(info, 0), "batchNormRelu");
    const bool fused = args::Bool(args::At(info, 1), "batchNormRelu: fused");
    std::vector<int64_t> shape = o.Ints("shape", 1, 4096);
    if (shape.size() != 4) throw TypeErrorEx("batchNormRelu.shape must be [N, C, H, W]");
    int64_t numel = 1;
    for (int64_t d : shape) {
      numel *= d;
      if (numel > (1 << 22)) throw RangeErrorEx("batchNormRelu: at most 4194304 elements");
    }
    if (numel / shape[1] < 2) throw RangeErrorEx("batchNormRelu: needs more than one value per channel");
    const int64_t C = shape[1];
    const auto cl = at::MemoryFormat::ChannelsLast;
    const auto dtype = o.Has("bf16") && o.Bool("bf16") ? at::kBFloat16 : at::kFloat;
    auto x = FieldTensor(o, "x", numel).view(shape).to(dtype).contiguous(cl).requires_grad_(true);
    auto dy = FieldTensor(o, "grad", numel).view(shape).to(dtype).contiguous(cl);
    at::Tensor res;
    if (o.Has("residual"))
      res = FieldTensor(o, "residual", numel).view(shape).to(dtype).contiguous(cl).requires_grad_(true);
    torch::nn::BatchNorm2d bn(C);
    {
      torch::NoGradGuard no_grad;
      bn->weight.copy_(FieldTensor(o, "weight", C));
      bn->bias.copy_(FieldTensor(o, "bias", C));
    }
    bn->train();
    at::Tensor out;
    {
      torch::AutoGradMode grad(true);
      if (fused) {
        if (!FusedBnApplies(x, bn))
          throw std::runtime_error("batchNormRelu: the fused kernels do not apply in this build");
        out = FusedBnRelu(x, bn, res);
      } else {
        out = res.defined() ? bn(x).add_(res).relu_() : bn(x).relu_();
      }
      out.backward(dy);
    }
    auto r = Napi::Object::New(env);
    r.Set("out", TensorToJs<float, Napi::Float32Array>(env, out.detach().to(at::kFloat)));
    r.Set("gradInput", TensorToJs<float, Napi::Float32Array>(env, x.grad().to(at::kFloat)));
    r.Set("gradWeight", TensorToJs<float, Napi::Float32Array>(env, bn->weight.grad()));
    r.Set("gradBias", TensorToJs<float, Napi::Float32Array>(env, bn->bias.grad()));
    if (res.defined()) r.Set("gradResidual", TensorToJs<float, Napi::Float32Array>(env, res.grad().to(at::kFloat)));
    r.Set("dtype", dtype == at::kBFloat16 ? "bf16" : "fp32");
    r.Set("runningMean", TensorToJs<float, Napi::Float32Array>(env, bn->running_mean));
    r.Set("runningVar", TensorToJs<float, Napi::Float32Array>(env, bn->running_var));
    return r;
  });
}

}  // namespace resnet_cifar

#endif  // RESNET_CIFAR_TEST_HOOKS
