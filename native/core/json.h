// A small JSON reader and writer for file headers (safetensors); plain C++. Numbers keep their integer value when
// they are integers within 2^53.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "limits.h"

namespace resnet_cifar {

struct Json {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject } type = kNull;
  bool b = false;
  double number = 0;
  std::string str;
  std::vector<Json> items;                             // kArray
  std::vector<std::pair<std::string, Json>> members;   // kObject, in file order

  const Json* Find(const std::string& key) const;
  bool IsInteger() const;
};

// std::invalid_argument with the byte offset on malformed input: anything outside JSON's grammar (hex or
// non-finite numbers too), a key twice in one object, nesting deeper than kMaxNesting, more than `max_values`.
Json ParseJson(const std::string& text, uint64_t max_values = kMaxJsonValues);
std::string JsonString(const std::string& s);  // quoted and escaped

}  // namespace resnet_cifar
