// CIFAR-10 in memory: one uint8 tensor of images (N, 3, 32, 32) and one int64 tensor of labels.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace resnet_cifar {

// Input normalization of pixels / 255: (x - mean) / std, mean of shape (1,3,1,1) or (1,3,32,32), std (1,3,1,1).
struct Normalization {
  torch::Tensor mean;
  torch::Tensor std;
  bool per_pixel() const { return mean.numel() == 3 * 32 * 32; }
};
// From flat Float32Arrays: mean of 3 or 3072 values, std of 3; a RangeErrorEx naming `what` otherwise.
Normalization ParseNormalization(const Napi::Value& mean, const Napi::Value& std, const std::string& what);

// uint8 NCHW images (any device) -> normalized float, on the same device.
torch::Tensor NormalizeBatch(const torch::Tensor& images_u8, const Normalization& norm);

struct EvalResult {
  double loss_sum = 0;
  int64_t count = 0;
  std::vector<int64_t> confusion;  // classes x classes, row = true class
};
// Eval loop shared by models, TorchScript modules and the trainer: no grad, in batches of `batch`.
// `forward` maps a normalized float batch on `device` to logits; the caller sets eval mode and holds any lock.
EvalResult EvaluateWith(const std::function<torch::Tensor(const torch::Tensor&)>& forward, torch::Device device,
                        const torch::Tensor& images, const torch::Tensor& labels, int64_t batch,
                        const Normalization& norm, int64_t classes);
// Plain-object result {count, lossSum, confusion[]} for JS.
Napi::Value EvalResultToJs(Napi::Env env, const EvalResult& r);

struct DatasetState {
  torch::Tensor images;  // uint8 N x 3 x 32 x 32, CPU
  torch::Tensor labels;  // int64 N, CPU
};

class DatasetWrap : public Napi::ObjectWrap<DatasetWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<DatasetState> state);
  static std::shared_ptr<DatasetState> StateOf(const Napi::Value& v);
  explicit DatasetWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Length(const Napi::CallbackInfo& info);
  Napi::Value LabelCounts(const Napi::CallbackInfo& info);
  Napi::Value Slice(const Napi::CallbackInfo& info);
  Napi::Value Images(const Napi::CallbackInfo& info);
  Napi::Value ChannelStats(const Napi::CallbackInfo& info);
  Napi::Value PixelMean(const Napi::CallbackInfo& info);
  static Napi::Value LoadBatches(const Napi::CallbackInfo& info);

  std::shared_ptr<DatasetState> state_;
};

}  // namespace resnet_cifar
