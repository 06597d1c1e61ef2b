// Fuzz target cifar_batch: CIFAR-10 batch files. The input is the start of one (the rest of the 30,730,000 bytes
// are zero records), or, when its first byte is odd, the whole file as given (any other size is refused); when its
// first byte has bit 1 set, the bytes after it are read as a CIFAR-100 file (fine labels when bit 2 is set too).
#include <algorithm>
#include <cstring>

#include "../../native/core/data/dataset.h"
#include "harness.h"

using namespace resnet_cifar;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  BatchFile f;
  f.name = "input";
  f.in_memory = true;
  if (size > 0 && (data[0] & 2)) {
    f.bytes = fuzz::Bytes(data + 1, size - 1);
    std::vector<BatchFile> one;
    one.push_back(std::move(f));
    fuzz::Refusable([&] { (void)LoadCifar100(std::move(one), (data[0] & 4) != 0); });
    return 0;
  }
  if (size > 0 && (data[0] & 1)) {
    f.bytes = fuzz::Bytes(data + 1, size - 1);
  } else {
    f.bytes.assign(static_cast<size_t>(kCifarRecordsPerFile * kCifarRecordBytes), 0);
    std::memcpy(f.bytes.data(), data, std::min(size, f.bytes.size()));
  }
  std::vector<BatchFile> files;
  files.push_back(std::move(f));
  fuzz::Refusable([&] { (void)LoadCifarBatches(std::move(files)); });
  return 0;
}
