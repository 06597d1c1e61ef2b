// Fuzz target torch_save: any file ResNet.load, loadStateDict or readCheckpointMeta opens (torch.save's zip and
// legacy formats, safetensors), through the checkpoint contract and the import of foreign layouts, and the meta
// converted to JSON as a safetensors write would.
#include "../../native/core/checkpoint/checkpoint.h"
#include "harness.h"

using namespace resnet_cifar;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<char> bytes = fuzz::Bytes(data, size);
  fuzz::Refusable([&] {
    Checkpoint ck = ReadWeightsBytes(bytes, "input");
    (void)PlainDataToJson(ck.meta);
  });
  fuzz::Refusable([&] {
    Checkpoint ck = ReadCheckpointBytes(bytes, "input", TensorData::kSkip);
    (void)PlainDataToJson(ck.meta);
  });
  return 0;
}
