// CIFAR-10 in memory: one uint8 tensor of images (N, 3, 32, 32) and one int64 tensor of labels.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <memory>

namespace resnet_cifar {

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
