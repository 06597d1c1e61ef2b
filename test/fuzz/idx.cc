// Fuzz target idx: the IDX reader ImageDataset.loadIdx uses (MNIST / Fashion-MNIST files, plain or gzip), with a
// 64 MB bound on the declared values (below the fuzzer's allocation limit).
#include "../../native/core/data/idx.h"
#include "harness.h"

using namespace resnet_cifar;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Refusable([&] { (void)ReadIdxBytes(reinterpret_cast<const char*>(data), size, "input", uint64_t{64} << 20); });
  return 0;
}
