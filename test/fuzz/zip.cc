// Fuzz target zip: the integrity check every torch.save, TorchScript and .pt2 archive passes before libtorch reads it.
#include "../../native/core/codecs/zip_check.h"
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<char> bytes = resnet_cifar::fuzz::Bytes(data, size);
  resnet_cifar::fuzz::Refusable([&] { resnet_cifar::VerifyZip(bytes, "input"); });
  return 0;
}
