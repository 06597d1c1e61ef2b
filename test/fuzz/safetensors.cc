// Fuzz target safetensors: the safetensors reader (header JSON, dtypes, shapes, offsets), then our meta in it.
#include "../../native/core/formats/safetensors.h"
#include "../../native/core/checkpoint/checkpoint.h"
#include "harness.h"

using namespace resnet_cifar;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<char> bytes = fuzz::Bytes(data, size);
  fuzz::Refusable([&] { (void)ParseSafetensors(bytes, "input"); });
  fuzz::Refusable([&] { (void)ReadCheckpointBytes(bytes, "input"); });
  return 0;
}
