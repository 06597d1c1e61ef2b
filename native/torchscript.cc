#include "torchscript.h"

#include <cstring>
#include <sstream>

#include "addon.h"
#include "checkpoint.h"
#include "common.h"
#include "dataset.h"
#include "model.h"

namespace resnet_cifar {

Napi::Function ScriptWrap::Define(Napi::Env env) {
  return DefineClass(env, "ScriptModule",
                     {
                         InstanceMethod<&ScriptWrap::Predict>("predict"),
                         InstanceMethod<&ScriptWrap::Evaluate>("evaluate"),
                         InstanceMethod<&ScriptWrap::NumClasses>("numClasses"),
                         InstanceMethod<&ScriptWrap::DeviceName>("device"),
                         InstanceMethod<&ScriptWrap::Dispose>("dispose"),
                         InstanceMethod<&ScriptWrap::Disposed>("disposed"),
                         StaticMethod<&ScriptWrap::Load>("load"),
                     });
}

ScriptWrap::ScriptWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ScriptWrap>(info) {
  Guard(info, [&]() -> Napi::Value {
    state_ = AdoptedState<ScriptState>(info);
    if (!state_) throw TypeErrorEx("ScriptModules are made by ScriptModule.load");
    return info.Env().Undefined();
  });
}

std::shared_ptr<ScriptState> ScriptWrap::Live(const Napi::CallbackInfo& info) const {
  if (!state_) throw Napi::Error::New(info.Env(), "This TorchScript model has been disposed");
  return state_;
}

static torch::Tensor Forward(ScriptState& s, const torch::Tensor& x) {
  auto out = s.module.forward({x});
  if (!out.isTensor()) {
    throw std::runtime_error(std::string("Expected the TorchScript module to return a tensor of logits but it returned ") +
                             out.tagKind());
  }
  return out.toTensor();
}

Napi::Value ScriptWrap::Predict(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    return RunPredict(info, "resnet-cifar:script-predict", [s](const torch::Tensor& x) {
      std::lock_guard<std::mutex> lock(s->mu);
      return Forward(*s, x.to(s->device));
    });
  });
}

// evaluate(dataset, batchSize, mean, std) -> Promise<{count, lossSum, confusion}>, like Model.evaluate.
Napi::Value ScriptWrap::Evaluate(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto s = Live(info);
    return RunEvaluate(info, "resnet-cifar:script-evaluate", [s](const DatasetState& data, int64_t batch, const Normalization& norm) {
      std::lock_guard<std::mutex> lock(s->mu);
      return EvaluateWith([&](const torch::Tensor& x) { return Forward(*s, x); }, s->device, data.images, data.labels,
                          batch, norm, s->num_classes);
    });
  });
}

Napi::Value ScriptWrap::NumClasses(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value { return Napi::Number::New(info.Env(), static_cast<double>(Live(info)->num_classes)); });
}

Napi::Value ScriptWrap::DeviceName(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value { return Napi::String::New(info.Env(), resnet_cifar::DeviceName(Live(info)->device)); });
}

Napi::Value ScriptWrap::Dispose(const Napi::CallbackInfo& info) {
  state_.reset();
  return info.Env().Undefined();
}

Napi::Value ScriptWrap::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !state_); }

// ScriptModule.load(path, device) -> Promise<ScriptModule>. The module is put in eval mode and probed with one
// 3x32x32 image, which must give a [1, classes] tensor.
Napi::Value ScriptWrap::Load(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const std::string path = ArgString(info, 0, "loadTorchScript: path");
    auto state = std::make_shared<ScriptState>();
    state->device = ResolveDevice(ArgString(info, 1, "loadTorchScript: device"));
    return TaskWorker::Run(
        info.Env(), "resnet-cifar:script-load",
        [state, path]() {
          std::vector<char> bytes = ReadFile(path);
          if (bytes.size() >= 4 && std::memcmp(bytes.data(), "PK\x03\x04", 4) == 0) VerifyZip(bytes, path);
          try {
            std::istringstream in(std::string(bytes.data(), bytes.size()));
            state->module = torch::jit::load(in, state->device);
          } catch (const c10::Error& e) {
            std::string m = TorchMessage(e);
            const bool state_dict = m.find("constants.pkl") != std::string::npos || m.find("code/") != std::string::npos;
            throw std::runtime_error(
                path + " is not a TorchScript module (torch.jit.save of a scripted or traced model)" +
                (state_dict ? "; it looks like a torch.save file: load state dicts with ResNet.loadStateDict"
                            : std::string("")) +
                ": " + m.substr(0, m.find('\n')));
          }
          state->module.eval();
          torch::NoGradGuard no_grad;
          torch::Tensor probe;
          try {
            probe = Forward(*state, torch::zeros({1, 3, 32, 32}, torch::TensorOptions().device(state->device)));
          } catch (const c10::Error& e) {
            throw std::runtime_error(path + ": the TorchScript module does not accept a [N, 3, 32, 32] batch: " +
                                     TorchMessage(e).substr(0, TorchMessage(e).find('\n')));
          }
          if (probe.dim() != 2 || probe.size(0) != 1) {
            std::ostringstream s;
            s << path << ": expected the TorchScript module to map [1, 3, 32, 32] to [1, classes] logits but it gave "
              << probe.sizes();
            throw std::runtime_error(s.str());
          }
          state->num_classes = probe.size(1);
        },
        [state](Napi::Env env) -> Napi::Value {
          return NewWrapped(env, env.GetInstanceData<AddonData>()->script_ctor, state);
        });
  });
}

}  // namespace resnet_cifar
