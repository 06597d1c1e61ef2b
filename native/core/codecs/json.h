// A small JSON reader and writer for file headers (safetensors); plain C++. Numbers keep their integer value when
// they are integers within 2^53.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../base/limits.h"

namespace resnet_cifar {

struct JsonMember;

struct Json {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject } type = kNull;
  bool b = false;
  double number = 0;
  std::string str;
  std::vector<Json> items;          // kArray
  std::vector<JsonMember> members;  // kObject, in file order

  const Json* Find(const std::string& key) const;
  bool IsInteger() const;
};

struct JsonMember {  // (a std::pair of an incomplete Json is not portable C++)
  std::string key;
  Json value;
};

// std::invalid_argument with the byte offset on malformed input: anything outside JSON's grammar (hex or
// non-finite numbers too), a key twice in one object, nesting deeper than kMaxNesting, more than `max_values`.
Json ParseJson(const std::string& text, uint64_t max_values = kMaxJsonValues);
std::string JsonString(const std::string& s);  // quoted and escaped

}  // namespace resnet_cifar
