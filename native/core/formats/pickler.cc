// Writer half of pickle.h.
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include "pickle.h"

namespace resnet_cifar {

// torch::pickle_save, but without the TorchScript type tags on dicts and lists (restore_type_tag), which
// Python's torch.load(weights_only=True) refuses: the result reads in Python as plain dicts, lists and tensors.
std::vector<char> PickleSave(const c10::IValue& value) {
  std::vector<char> pickle_data;
  torch::jit::Pickler pickler(
      [&](const char* buf, size_t size) { pickle_data.insert(pickle_data.end(), buf, buf + size); },
      /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
      /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::vector<char> out;
  out.reserve(pickle_data.size() + 1024);
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t len) -> size_t {
    const char* bytes = static_cast<const char*>(data);
    out.insert(out.end(), bytes, bytes + len);
    return len;
  });
  torch::jit::writeArchiveAndTensors("data", pickle_data.data(), pickle_data.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  return out;
}

}  // namespace resnet_cifar
