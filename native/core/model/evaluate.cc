#include "evaluate.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/nn/functional/loss.h>

#include <sstream>
#include <stdexcept>

namespace resnet_cifar {

double ErrorPercent(int64_t count, int64_t correct) {
  return count ? 100.0 * static_cast<double>(count - correct) / static_cast<double>(count) : 0.0;
}

int64_t EvalResult::Correct() const {
  int64_t c = 0;
  for (int64_t k = 0; k < classes; ++k) c += confusion[k * classes + k];
  return c;
}

int64_t EvalResult::ClassCount(int64_t c) const {
  int64_t n = 0;
  for (int64_t k = 0; k < classes; ++k) n += confusion[c * classes + k];
  return n;
}

double EvalResult::ClassError(int64_t c) const { return ErrorPercent(ClassCount(c), confusion[c * classes + c]); }

EvalResult Evaluate(const std::function<at::Tensor(const at::Tensor&)>& forward, c10::Device device,
                    const Dataset& data, int64_t batch, const Normalization& norm, int64_t classes,
                    Precision precision) {
  c10::NoGradGuard no_grad;
  norm.CheckFits(data.shape());
  Normalization on_dev = norm;
  on_dev.mean = norm.mean.to(device);
  on_dev.std = norm.std.to(device);
  auto confusion = at::zeros({classes * classes}, at::TensorOptions().dtype(at::kLong).device(device));
  auto loss = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device));
  const int64_t n = data.size();
  for (int64_t i = 0; i < n; i += batch) {
    const int64_t b = std::min(batch, n - i);
    auto x = on_dev.Apply(data.images().narrow(0, i, b).to(device));
    auto y = data.labels().narrow(0, i, b).to(device);
    at::Tensor logits;
    {
      PrecisionScope scope(precision, device.type());
      logits = forward(x);
    }
    if (logits.dim() != 2 || logits.size(0) != b || logits.size(1) != classes) {
      std::ostringstream s;
      s << "Expected logits of shape [" << b << ", " << classes << "] but the model returned " << logits.sizes();
      throw std::runtime_error(s.str());
    }
    logits = logits.to(at::kFloat);
    loss += torch::nn::functional::cross_entropy(
                logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                .to(at::kDouble);
    confusion += at::bincount(y * classes + logits.argmax(1), {}, classes * classes);
  }
  EvalResult r;
  r.classes = classes;
  auto c = confusion.to(at::kCPU);
  r.confusion.assign(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
  r.loss_sum = loss.item<double>();
  r.count = n;
  return r;
}

}  // namespace resnet_cifar
