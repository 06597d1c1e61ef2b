// TorchScript modules exported by PyTorch (torch.jit.script / torch.jit.trace), for predict and evaluate.
#pragma once

#include <napi.h>
#include <torch/script.h>

#include <memory>
#include <mutex>

namespace resnet_cifar {

struct ScriptState {
  std::mutex mu;
  torch::jit::Module module;
  torch::Device device{torch::kCPU};
  int64_t num_classes = 0;  // from a probe forward pass at load
};

class ScriptWrap : public Napi::ObjectWrap<ScriptWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ScriptWrap(const Napi::CallbackInfo& info);

 private:
  std::shared_ptr<ScriptState> Live(const Napi::CallbackInfo& info) const;
  Napi::Value Predict(const Napi::CallbackInfo& info);
  Napi::Value Evaluate(const Napi::CallbackInfo& info);
  Napi::Value NumClasses(const Napi::CallbackInfo& info);
  Napi::Value DeviceName(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  static Napi::Value Load(const Napi::CallbackInfo& info);

  std::shared_ptr<ScriptState> state_;
};

}  // namespace resnet_cifar
