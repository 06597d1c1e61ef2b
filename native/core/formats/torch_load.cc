// Files written by Python's torch.save, in its zip format (PyTorch >= 1.6, and our own checkpoints) and in the
// legacy format before it (a sequence of pickles followed by the raw storages), read with the restricted pickle
// reader (unpickler.cc): the containers, their storages and the checks around them.
#include <sys/types.h>

#include <ATen/ATen.h>
#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "../base/errors.h"
#include "../base/files.h"
#include "../base/limits.h"
#include "../codecs/zip_check.h"
#include "pickle.h"
#include "unpickle.h"

namespace resnet_cifar {
namespace {

// Zip format: storage `key` is the record data/<key>.
class ZipStorages : public StorageSource {
 public:
  ZipStorages(caffe2::serialize::PyTorchStreamReader& zip, TensorData tensors) : zip_(zip), tensors_(tensors) {}
  at::Tensor Get(const std::string& key, at::ScalarType dtype, int64_t numel) override {
    const std::string record = "data/" + key;
    if (!zip_.hasRecord(record)) throw BadPickle("missing tensor data record " + record);
    const uint64_t size = zip_.getRecordSize(record);
    const uint64_t element = c10::elementSize(dtype);
    if (size % element != 0 || static_cast<uint64_t>(numel) != size / element) {
      throw BadPickle("tensor data record " + record + " has " + std::to_string(size) + " bytes, but its storage " +
                      "declares " + std::to_string(numel) + " elements of " + std::to_string(element));
    }
    if (tensors_ == TensorData::kSkip) return at::empty({numel}, at::TensorOptions().dtype(dtype).device(at::kMeta));
    auto [ptr, nbytes] = zip_.getRecord(record);
    c10::Storage st(c10::Storage::use_byte_size_t(), nbytes, std::move(ptr), nullptr, false);
    return at::empty({0}, at::TensorOptions().dtype(dtype)).set_(st, 0, {numel}, {1});
  }

 private:
  caffe2::serialize::PyTorchStreamReader& zip_;
  TensorData tensors_;
};

// Legacy format: storages are allocated while the pickle is read and filled afterwards from the raw data that
// follows it, in the order of the key list pickled after the object.
// Each storage's declared size is checked against the bytes left in the file before it is allocated (every
// storage is stored there as an 8-byte count and its elements), and it can never grow.
class LegacyStorages : public StorageSource {
 public:
  explicit LegacyStorages(uint64_t available) : available_(available) {}
  at::Tensor Get(const std::string& key, at::ScalarType dtype, int64_t numel) override {
    const uint64_t element = c10::elementSize(dtype);
    const uint64_t left = available_ - declared_;
    if (static_cast<uint64_t>(numel) > left / element || static_cast<uint64_t>(numel) * element + 8 > left) {
      throw BadPickle("storage " + key + " declares " + std::to_string(numel) + " elements of " +
                      std::to_string(element) + " bytes, more than the " + std::to_string(available_) +
                      " bytes the file holds for all its storages");
    }
    declared_ += static_cast<uint64_t>(numel) * element + 8;
    auto t = at::empty({numel}, at::TensorOptions().dtype(dtype));
    t.storage().unsafeGetStorageImpl()->set_resizable(false);
    storages_.emplace(key, t);
    return t;
  }
  std::unordered_map<std::string, at::Tensor> storages_;

 private:
  uint64_t available_, declared_ = 0;
};

// torch.save's legacy header: the magic number 0x1950a86a20f9469cfc6c pickled with protocol 2.
constexpr unsigned char kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                          0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

bool IsLegacy(const std::vector<char>& data) {
  return data.size() >= sizeof kLegacyMagic && std::memcmp(data.data(), kLegacyMagic, sizeof kLegacyMagic) == 0;
}

c10::IValue LoadLegacy(const std::vector<char>& data, TensorData tensors) {
  size_t pos = sizeof kLegacyMagic;
  const c10::IValue v = Unpickle(data.data(), data.size(), pos, nullptr, &pos);
  if (!v.isInt() || v.toInt() != 1001) throw BadPickle("unknown legacy protocol version");
  const c10::IValue info = Unpickle(data.data(), data.size(), pos, nullptr, &pos);
  if (info.isGenericDict()) {
    auto it = info.toGenericDict().find(std::string("little_endian"));
    if (it != info.toGenericDict().end() && it->value().isBool() && !it->value().toBool()) {
      throw BadPickle("written on a big-endian machine");
    }
  }
  LegacyStorages storages(data.size() - pos);
  c10::IValue result = Unpickle(data.data(), data.size(), pos, &storages, &pos);
  const c10::IValue keys = Unpickle(data.data(), data.size(), pos, nullptr, &pos);
  if (!keys.isList()) throw BadPickle("malformed storage key list");
  size_t p = pos;
  for (const auto& k : keys.toListRef()) {
    if (!k.isString()) throw BadPickle("malformed storage key list");
    auto it = storages.storages_.find(k.toStringRef());
    if (it == storages.storages_.end()) throw BadPickle("storage " + k.toStringRef() + " is listed but never used");
    at::Tensor& t = it->second;
    if (p + 8 > data.size()) throw BadPickle("cut short before storage " + k.toStringRef());
    int64_t numel = 0;
    std::memcpy(&numel, data.data() + p, 8);
    const size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
    if (numel != t.numel())
      throw BadPickle("storage " + k.toStringRef() + " holds " + std::to_string(numel) +
                      " elements, its tensors expect " + std::to_string(t.numel()));
    p += 8;
    if (p + nbytes > data.size()) throw BadPickle("cut short inside storage " + k.toStringRef());
    if (tensors == TensorData::kLoad && nbytes) std::memcpy(t.data_ptr(), data.data() + p, nbytes);
    p += nbytes;
  }
  if (storages.storages_.size() != keys.toListRef().size()) throw BadPickle("a storage's data is missing");
  return result;
}

}  // namespace

c10::IValue LoadPickle(const std::string& path, TensorData tensors) {
  return LoadPickleBytes(ReadFile(path), path, tensors);
}

c10::IValue LoadPickleBytes(const std::vector<char>& data, const std::string& path, TensorData tensors) {
  if (data.empty()) throw std::runtime_error(path + " is empty (expected a file written by torch.save)");
  try {
    if (IsLegacy(data)) return LoadLegacy(data, tensors);
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + " is not a file torch.load can read: " + TorchMessage(e));
  } catch (const BadPickle& e) {
    throw std::runtime_error(path + " is a damaged or unsupported legacy torch.save file: " + e.what());
  }
  if (data.size() < 4 || std::memcmp(data.data(), "PK\x03\x04", 4) != 0) {
    throw std::runtime_error(path +
                             " is not a file written by torch.save (neither its zip format nor the legacy "
                             "format of PyTorch before 1.6)");
  }
  VerifyZip(data, path);
  try {
    caffe2::serialize::PyTorchStreamReader zip(
        std::make_shared<caffe2::serialize::MemoryReadAdapter>(data.data(), static_cast<off_t>(data.size())));
    if (!zip.hasRecord("data.pkl")) {
      throw BadPickle("no data.pkl record (a TorchScript archive? load those with loadTorchScript)");
    }
    if (zip.getRecordSize("data.pkl") > kMaxPickleBytes) {
      throw BadPickle("its data.pkl declares " + std::to_string(zip.getRecordSize("data.pkl")) + " bytes (at most " +
                      std::to_string(kMaxPickleBytes) + " are read)");
    }
    auto [ptr, size] = zip.getRecord("data.pkl");
    std::vector<char> pkl(static_cast<const char*>(ptr.get()), static_cast<const char*>(ptr.get()) + size);
    ZipStorages storages(zip, tensors);
    return Unpickle(pkl.data(), pkl.size(), 0, &storages, nullptr);
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + " is not a file torch.load can read: " + TorchMessage(e));
  } catch (const BadPickle& e) {
    throw std::runtime_error(path + " is not a file resnet-cifar can read: " + e.what());
  }
}

}  // namespace resnet_cifar
