// A checkpoint's meta: plain data (None, bool, int, float, str, lists, str-keyed dicts) in a generic dict, and the
// same as JSON, as our safetensors files keep it in __metadata__.
#pragma once

#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>

#include <string>

#include "../codecs/json.h"

namespace resnet_cifar {

using Meta = c10::impl::GenericDict;  // str -> plain data
Meta NewMeta();

// Plain data as JSON (non-finite floats as null); anything else is an error naming its kind.
std::string PlainDataToJson(const c10::IValue& v);
// JSON as plain data: integers as int, other numbers as float, objects as Meta dicts.
c10::IValue PlainDataFromJson(const Json& j);

}  // namespace resnet_cifar
