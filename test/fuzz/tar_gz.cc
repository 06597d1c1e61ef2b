// Fuzz target tar_gz: the .tar.gz reader Cifar10.load uses (gzip members and trailers, ustar headers, GNU long
// names, pax paths), wanting the CIFAR-10 members with the sizes lib/data/cifar10.ts gives.
#include "../../native/core/codecs/tar_gz.h"
#include "harness.h"

using namespace resnet_cifar;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::map<std::string, uint64_t> wanted = {{"cifar-10-batches-bin/test_batch.bin", 30730000},
                                                         {"cifar-10-batches-bin/data_batch_1.bin", 30730000},
                                                         {"cifar-10-batches-bin/batches.meta.txt", 65536}};
  fuzz::Refusable([&] { (void)ReadTarGzBytes(reinterpret_cast<const char*>(data), size, "input", wanted); });
  return 0;
}
