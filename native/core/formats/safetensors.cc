#include "safetensors.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

#include "../base/limits.h"
#include "../codecs/json.h"

namespace resnet_cifar {

static const std::map<std::string, at::ScalarType>& Dtypes() {
  static const std::map<std::string, at::ScalarType> m = {
      {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"I64", at::kLong},
      {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},  {"U8", at::kByte},       {"BOOL", at::kBool},
  };
  return m;
}

static std::string DtypeName(at::ScalarType t) {
  for (const auto& [name, type] : Dtypes()) {
    if (type == t) return name;
  }
  throw std::invalid_argument(std::string("safetensors cannot store dtype ") + c10::toString(t));
}

static uint64_t HeaderLength(const std::vector<char>& bytes) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  return n;
}

bool LooksLikeSafetensors(const std::vector<char>& head, uint64_t file_size) {
  if (head.size() < 9 || file_size < 10) return false;
  const uint64_t n = HeaderLength(head);
  return n >= 2 && n <= file_size - 8 && head[8] == '{';
}

Safetensors ParseSafetensors(const std::vector<char>& bytes, const std::string& path) {
  auto bad = [&](const std::string& what) {
    return std::runtime_error(path + " is not a valid safetensors file: " + what);
  };
  if (bytes.size() < 8) throw bad("shorter than its 8-byte header length");
  const uint64_t n = HeaderLength(bytes);
  if (n > kMaxSafetensorsHeader) {
    throw bad("header length " + std::to_string(n) + " is over the format's limit of " +
              std::to_string(kMaxSafetensorsHeader) + " bytes");
  }
  if (n > bytes.size() - 8) throw bad("header length " + std::to_string(n) + " exceeds the file");
  Json header;
  try {
    header = ParseJson(std::string(bytes.data() + 8, static_cast<size_t>(n)));
  } catch (const std::invalid_argument& e) {
    throw bad(std::string("header: ") + e.what());
  }
  if (header.type != Json::kObject) throw bad("the header is not a JSON object");
  const uint64_t data_size = bytes.size() - 8 - n;
  const char* data = bytes.data() + 8 + n;
  Safetensors out;
  struct Entry {
    uint64_t begin, end;
    std::string name;
    std::vector<int64_t> dims;
    at::ScalarType dtype;
  };
  std::vector<Entry> entries;  // checked first, allocated only once the whole header is known to fit the file
  for (const auto& [name, v] : header.members) {
    if (name == "__metadata__") {
      if (v.type != Json::kObject) throw bad("__metadata__ is not an object");
      for (const auto& [k, s] : v.members) {
        if (s.type != Json::kString) throw bad("__metadata__." + k + " is not a string");
        out.metadata.emplace_back(k, s.str);
      }
      continue;
    }
    const Json* dtype = v.type == Json::kObject ? v.Find("dtype") : nullptr;
    const Json* shape = v.type == Json::kObject ? v.Find("shape") : nullptr;
    const Json* offsets = v.type == Json::kObject ? v.Find("data_offsets") : nullptr;
    if (!dtype || dtype->type != Json::kString || !shape || shape->type != Json::kArray || !offsets ||
        offsets->type != Json::kArray || offsets->items.size() != 2) {
      throw bad("tensor '" + name + "' lacks dtype, shape or data_offsets");
    }
    auto it = Dtypes().find(dtype->str);
    if (it == Dtypes().end()) throw bad("tensor '" + name + "' has an unknown dtype '" + dtype->str + "'");
    std::vector<int64_t> dims;
    uint64_t numel = 1;
    for (const auto& d : shape->items) {
      if (!d.IsInteger() || d.number < 0) throw bad("tensor '" + name + "' has a bad shape");
      const uint64_t size = static_cast<uint64_t>(d.number);
      if (dims.size() >= static_cast<size_t>(kMaxTensorDims) || __builtin_mul_overflow(numel, size, &numel) ||
          numel > data_size) {
        throw bad("tensor '" + name + "' has a shape larger than the file");
      }
      dims.push_back(static_cast<int64_t>(size));
    }
    const Json& b = offsets->items[0];
    const Json& e = offsets->items[1];
    if (!b.IsInteger() || !e.IsInteger() || b.number < 0 || e.number < b.number)
      throw bad("tensor '" + name + "' has bad data_offsets");
    const uint64_t begin = static_cast<uint64_t>(b.number), end = static_cast<uint64_t>(e.number);
    if (end > data_size)
      throw bad("tensor '" + name + "' ends at byte " + std::to_string(end) + " of a " + std::to_string(data_size) +
                "-byte data section (the file is cut short)");
    const uint64_t nbytes = numel * c10::elementSize(it->second);  // numel <= data_size: no overflow
    if (end - begin != nbytes) {
      throw bad("tensor '" + name + "' holds " + std::to_string(end - begin) + " bytes but its shape and dtype need " +
                std::to_string(nbytes));
    }
    entries.push_back({begin, end, name, std::move(dims), it->second});
  }
  // As the format's reference implementation requires: the tensors' bytes follow each other from the start of the
  // data section with no gap or overlap, and the last ends at the end of the file.
  std::vector<const Entry*> order;
  for (const auto& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t at = 0;
  for (const Entry* e : order) {
    if (e->begin != at) {
      throw bad(e->begin < at ? "tensors '" + e->name + "' and another share bytes"
                              : "a gap of " + std::to_string(e->begin - at) + " bytes before tensor '" + e->name + "'");
    }
    at = e->end;
  }
  if (at != data_size) {
    throw bad(std::to_string(data_size - at) + " bytes after the last tensor (the data section is " +
              std::to_string(data_size) + " bytes)");
  }
  for (const auto& e : entries) {
    auto t = at::empty(e.dims, at::TensorOptions().dtype(e.dtype));
    if (e.end > e.begin) std::memcpy(t.data_ptr(), data + e.begin, e.end - e.begin);
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

std::vector<char> SafetensorsBytes(const Safetensors& s) {
  std::string header = "{";
  bool first = true;
  if (!s.metadata.empty()) {
    header += "\"__metadata__\":{";
    for (size_t i = 0; i < s.metadata.size(); ++i) {
      if (i) header += ',';
      header += JsonString(s.metadata[i].first);
      header += ':';
      header += JsonString(s.metadata[i].second);
    }
    header += "}";
    first = false;
  }
  uint64_t offset = 0;
  std::vector<at::Tensor> data;
  for (const auto& [name, t] : s.tensors) {
    auto c = t.detach().to(at::kCPU).contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    header += std::string(first ? "" : ",") + JsonString(name) + ":{\"dtype\":\"" + DtypeName(c.scalar_type()) +
              "\",\"shape\":[";
    for (int64_t d = 0; d < c.dim(); ++d) {
      if (d) header += ',';
      header += std::to_string(c.size(d));
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + nbytes) + "]}";
    offset += nbytes;
    data.push_back(c);
    first = false;
  }
  header += "}";
  while ((8 + header.size()) % 8) header += ' ';  // the data section starts 8-byte aligned
  std::vector<char> out(8 + header.size() + offset);
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  std::memcpy(out.data() + 8, header.data(), header.size());
  char* p = out.data() + 8 + header.size();
  for (const auto& c : data) {
    const size_t nbytes = static_cast<size_t>(c.numel()) * c.element_size();
    if (nbytes) std::memcpy(p, c.data_ptr(), nbytes);
    p += nbytes;
  }
  return out;
}

}  // namespace resnet_cifar
