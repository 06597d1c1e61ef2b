// Fuzz target json: the JSON reader of safetensors headers and of the meta they carry.
#include "../../native/core/codecs/json.h"
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  resnet_cifar::fuzz::Refusable([&] { (void)resnet_cifar::ParseJson(text); });
  return 0;
}
