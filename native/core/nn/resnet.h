// The CIFAR-10 ResNets of He et al. (CVPR 2016), section 4.2, as libtorch modules.
// Parameter names follow the seed's nets.py (conv, bn, block1.0.conv1, ..., fc) so state dicts map 1:1.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sync_bn.h"

namespace resnet_cifar {

enum class Shortcut { A, B, Plain };

// Bounds on what a model may be built with (they keep a typo or a hostile file from allocating gigabytes):
// ResNet-6002 has about 97M parameters (390 MB), 1,000,000 classes a 64M-parameter fc. lib/ reads them from info().
constexpr int64_t kMinDepth = 8;
constexpr int64_t kMaxDepth = 6002;
constexpr int64_t kMaxClasses = 1000000;

Shortcut ParseShortcut(const std::string& s);  // "A" | "B" | "plain"; throws std::invalid_argument
std::string ShortcutName(Shortcut s);

// The network's stages, by the names fine-tuning uses (freeze, per-stage learning rates): "stem" (the first conv and
// its BN), "block1", "block2", "block3" (the three stages of blocks) and "fc" (the head).
const std::vector<std::string>& StageNames();
// The module names a stage holds (the parameter and buffer names they begin); std::invalid_argument otherwise.
std::vector<std::string> StageModules(const std::string& stage);
// The stage a parameter or buffer name (e.g. "block2.0.bn1.weight") belongs to.
std::string StageOf(const std::string& name);

struct ResNetOptions {
  ResNetOptions(int64_t depth) : depth_(depth) {}
  TORCH_ARG(int64_t, depth);  // 6n + 2
  TORCH_ARG(Shortcut, shortcut) = Shortcut::A;
  TORCH_ARG(int64_t, num_classes) = 10;
  TORCH_ARG(int64_t, in_channels) = 3;  // 3: RGB images, 1: grey
};

// Option A's shortcut where the shape changes: x[:, :, ::stride, ::stride] with planes - C zero channels after x's
// own, in x's memory layout.
torch::Tensor SubsamplePad(const torch::Tensor& x, int64_t stride, int64_t planes);

// conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU.
// How train-mode BatchNorm runs: libtorch's BatchNorm2d, the fused CPU kernels of fused_bn.h where they apply, or
// synchronized over the ranks of a data-parallel fit (sync_bn.h; set, it takes precedence).
struct BatchNormPath {
  bool fused = false;
  std::shared_ptr<const AllReduceSum> sync;
};

struct BasicBlockImpl : torch::nn::Module {
  BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride, Shortcut shortcut);
  torch::Tensor forward(torch::Tensor x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential projection{nullptr};  // option B where the shape changes: "shortcut.0" conv, "shortcut.1" bn
  Shortcut kind;
  int64_t in_planes, planes, stride;
  BatchNormPath bn_path;  // set by ResNetImpl
};
TORCH_MODULE(BasicBlock);

struct ResNetImpl : torch::nn::Module {
  explicit ResNetImpl(const ResNetOptions& options);
  torch::Tensor forward(torch::Tensor x);

  // (conv, bn) name pairs: each conv is followed by this BN (used to fold a conv bias into BN statistics).
  std::vector<std::pair<std::string, std::string>> ConvBnPairs() const;
  int64_t ParameterCount() const;
  // Train-mode BatchNorm + ReLU (+ residual) through the fused CPU kernels of fused_bn.h where they apply (the
  // trainer turns this on for a fit); off, libtorch's own BatchNorm2d and relu run.
  void SetFusedBatchNorm(bool on);
  bool FusedBatchNorm() const { return bn_path.fused; }
  // Train-mode BatchNorm over the global batch of a data-parallel fit (the trainer sets it for a fit with
  // synchronized BatchNorm and clears it after); null: each rank's own batch.
  void SetBatchNormSync(std::shared_ptr<const AllReduceSum> all_reduce);
  // Fine-tuning: the stages whose parameters take no gradient (requires_grad off) and whose BatchNorm keeps its
  // running statistics (eval mode whatever train() says), until set again; empty: none.
  void SetFrozen(const std::vector<std::string>& stages);
  const std::vector<std::string>& Frozen() const { return frozen_; }
  void train(bool on = true) override;
  // A new head for `num_classes` classes (libtorch's Linear initialisation, Kaiming-uniform), the rest unchanged.
  void ReplaceHead(int64_t num_classes);

  ResNetOptions options;
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Sequential block1{nullptr}, block2{nullptr}, block3{nullptr};
  torch::nn::Linear fc{nullptr};

 private:
  void SetPath(const BatchNormPath& p);
  BatchNormPath bn_path;
  std::vector<std::string> frozen_;
};
TORCH_MODULE(ResNet);

// "ResNet-20 (shortcut A, 10 classes)", for messages.
std::string DescribeModel(const ResNetOptions& o);

// Kaiming-normal (fan_out, ReLU) for convs, BN weight 1 / bias 0; fc keeps libtorch's default init.
void InitWeights(ResNet& net);

}  // namespace resnet_cifar
