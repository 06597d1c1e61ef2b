#include "meta_json.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace resnet_cifar {

Meta NewMeta() { return Meta(c10::StringType::get(), c10::AnyType::get()); }

std::string PlainDataToJson(const c10::IValue& v) {
  if (v.isNone()) return "null";
  if (v.isBool()) return v.toBool() ? "true" : "false";
  if (v.isInt()) return std::to_string(v.toInt());
  if (v.isDouble()) {
    if (!std::isfinite(v.toDouble())) return "null";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v.toDouble());
    return buf;
  }
  if (v.isString()) return JsonString(v.toStringRef());
  if (v.isList() || v.isTuple()) {
    std::string s = "[";
    const auto items = v.isList() ? v.toListRef().vec() : v.toTupleRef().elements().vec();
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) s += ',';
      s += PlainDataToJson(items[i]);
    }
    return s + "]";
  }
  if (v.isGenericDict()) {
    std::string s = "{";
    bool first = true;
    for (const auto& kv : v.toGenericDict()) {
      if (!kv.key().isString()) continue;
      if (!first) s += ',';
      s += JsonString(kv.key().toStringRef());
      s += ':';
      s += PlainDataToJson(kv.value());
      first = false;
    }
    return s + "}";
  }
  throw std::invalid_argument(std::string("meta holds a ") + v.tagKind() + ", which JSON cannot hold");
}

c10::IValue PlainDataFromJson(const Json& j) {
  switch (j.type) {
    case Json::kNull: return c10::IValue();
    case Json::kBool: return j.b;
    case Json::kNumber: return j.IsInteger() ? c10::IValue(static_cast<int64_t>(j.number)) : c10::IValue(j.number);
    case Json::kString: return j.str;
    case Json::kArray: {
      c10::impl::GenericList l(c10::AnyType::get());
      for (const auto& e : j.items) l.push_back(PlainDataFromJson(e));
      return l;
    }
    case Json::kObject: {
      Meta d = NewMeta();
      for (const auto& [k, e] : j.members) d.insert_or_assign(k, PlainDataFromJson(e));
      return d;
    }
  }
  return c10::IValue();
}

}  // namespace resnet_cifar
