#include "safetensors.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

#include "json.h"

namespace resnet_cifar {

static const std::map<std::string, at::ScalarType>& Dtypes() {
  static const std::map<std::string, at::ScalarType> m = {
      {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"I64", at::kLong},
      {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},  {"U8", at::kByte},         {"BOOL", at::kBool},
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
  auto bad = [&](const std::string& what) { return std::runtime_error(path + " is not a valid safetensors file: " + what); };
  if (bytes.size() < 8) throw bad("shorter than its 8-byte header length");
  const uint64_t n = HeaderLength(bytes);
  if (n > bytes.size() - 8 || n > (100u << 20)) throw bad("header length " + std::to_string(n) + " exceeds the file");
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
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
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
      if (!d.IsInteger() || d.number < 0 || d.number > 1e12) throw bad("tensor '" + name + "' has a bad shape");
      dims.push_back(static_cast<int64_t>(d.number));
      numel *= static_cast<uint64_t>(d.number);
      if (numel > (uint64_t{1} << 40)) throw bad("tensor '" + name + "' is implausibly large");
    }
    const Json& b = offsets->items[0];
    const Json& e = offsets->items[1];
    if (!b.IsInteger() || !e.IsInteger() || b.number < 0 || e.number < b.number) throw bad("tensor '" + name + "' has bad data_offsets");
    const uint64_t begin = static_cast<uint64_t>(b.number), end = static_cast<uint64_t>(e.number);
    if (end > data_size) throw bad("tensor '" + name + "' ends at byte " + std::to_string(end) + " of a " + std::to_string(data_size) + "-byte data section (the file is cut short)");
    if (end - begin != numel * c10::elementSize(it->second)) {
      throw bad("tensor '" + name + "' holds " + std::to_string(end - begin) + " bytes but its shape and dtype need " +
                std::to_string(numel * c10::elementSize(it->second)));
    }
    ranges.emplace_back(begin, end);
    auto t = at::empty(dims, at::TensorOptions().dtype(it->second));
    if (end > begin) std::memcpy(t.data_ptr(), data + begin, end - begin);
    out.tensors.emplace_back(name, t);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) throw bad("two tensors' data overlap");
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
    header += std::string(first ? "" : ",") + JsonString(name) + ":{\"dtype\":\"" + DtypeName(c.scalar_type()) + "\",\"shape\":[";
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
