#include "device.h"

#include <torch/cuda.h>

#include <stdexcept>

namespace resnet_cifar {

std::string DeviceName(const c10::Device& d) { return d.is_cpu() ? "cpu" : d.str(); }

c10::Device ResolveDevice(const std::string& spec) {
  if (spec == "cpu") return c10::Device(c10::kCPU);
  const bool cuda = torch::cuda::is_available();
  if (spec == "auto") return cuda ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  if (spec == "cuda" || spec.rfind("cuda:", 0) == 0) {
    int64_t index = 0;
    if (spec.size() > 5) {
      const std::string digits = spec.substr(5);
      if (digits.empty() || digits.size() > 4 || digits.find_first_not_of("0123456789") != std::string::npos) {
        throw std::invalid_argument("unknown device '" + spec + "'");
      }
      index = std::stoll(digits);
    }
    if (!cuda || index >= static_cast<int64_t>(torch::cuda::device_count())) {
      throw std::invalid_argument("device '" + spec + "' is not available in this process");
    }
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw std::invalid_argument("unknown device '" + spec + "'");
}

}  // namespace resnet_cifar
