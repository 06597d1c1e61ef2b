// Python's torch.save format, both ways, for plain data: dicts, lists, tuples, strings, numbers, booleans, None and
// tensors. Reading is restricted like torch.load(weights_only=True): nothing executable, any other Python object
// is an error naming it.
#pragma once

#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

namespace resnet_cifar {

enum class TensorData { kLoad, kSkip };

// The object in a file written by torch.save (zip format) or by us; errors name the file. With TensorData::kSkip
// tensors come back as shape-only placeholders (meta device) and no tensor data is read: for inspecting a file.
c10::IValue LoadPickle(const std::string& path, TensorData tensors = TensorData::kLoad);
// The same from the file's bytes; `name` names it in errors (the fuzzing harnesses call this).
c10::IValue LoadPickleBytes(const std::vector<char>& data, const std::string& name,
                            TensorData tensors = TensorData::kLoad);

// `value` in the format of Python's torch.save, readable by torch.load(weights_only=True).
std::vector<char> PickleSave(const c10::IValue& value);

}  // namespace resnet_cifar
