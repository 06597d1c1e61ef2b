// A restricted reader for files written by Python's torch.save, in its zip format (PyTorch >= 1.6, and our own
// checkpoints) and in the legacy format before it (a sequence of pickles followed by the raw storages).
// Like torch.load(weights_only=True) it builds only plain data: dicts (OrderedDict too), lists, tuples, strings,
// numbers, booleans, None and tensors; any other Python object is an error naming it, so a hostile file can
// neither run code nor reach an unexpected code path. (libtorch's own pickle_load cannot read state dicts
// that carry OrderedDict metadata, which every model.state_dict() does.)
#include <sys/types.h>

#include <ATen/ATen.h>
#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "errors.h"
#include "files.h"
#include "pickle.h"
#include "zip_check.h"

namespace resnet_cifar {
namespace {

constexpr const char* kGlobal = "\x01global:";  // marks a resolved GLOBAL on the stack

struct BadPickle : std::runtime_error {
  using std::runtime_error::runtime_error;
};

at::ScalarType StorageDtype(const std::string& name) {
  static const std::unordered_map<std::string, at::ScalarType> m = {
      {"torch.FloatStorage", at::kFloat}, {"torch.DoubleStorage", at::kDouble},
      {"torch.HalfStorage", at::kHalf},   {"torch.BFloat16Storage", at::kBFloat16},
      {"torch.LongStorage", at::kLong},   {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort}, {"torch.CharStorage", at::kChar},
      {"torch.ByteStorage", at::kByte},   {"torch.BoolStorage", at::kBool},
  };
  // Storages saved from a GPU (torch.cuda.FloatStorage, ...) load on the CPU.
  const std::string cpu = name.rfind("torch.cuda.", 0) == 0 ? "torch." + name.substr(11) : name;
  auto it = m.find(cpu);
  if (it == m.end()) throw BadPickle("unsupported storage type " + name);
  return it->second;
}

// Where the tensors' bytes are: a zip record per storage, or the legacy format's storages after the pickles.
class StorageSource {
 public:
  virtual ~StorageSource() = default;
  virtual at::Tensor Get(const std::string& key, at::ScalarType dtype, int64_t numel) = 0;
};

class Reader {
 public:
  // Reads one pickle from data[start, size); pos() is where it ended.
  Reader(const char* data, size_t size, size_t start, StorageSource* storages)
      : p_(data), n_(size), pos_(start), storages_(storages) {}
  size_t pos() const { return pos_; }

  c10::IValue Run() {
    while (true) {
      uint8_t op = U8();
      switch (op) {
        case 0x80: U8(); break;                                  // PROTO
        case 0x95: Take(8); break;                               // FRAME
        case '.':                                                // STOP
          if (stack_.size() != 1) throw BadPickle("malformed pickle (stack at STOP)");
          return stack_.back();
        case '(': marks_.push_back(stack_.size()); break;        // MARK
        case '}': stack_.push_back(NewDict()); break;            // EMPTY_DICT
        case ']': stack_.push_back(c10::impl::GenericList(c10::AnyType::get())); break;  // EMPTY_LIST
        case ')': stack_.push_back(c10::ivalue::Tuple::create({})); break;              // EMPTY_TUPLE
        case 'N': stack_.push_back(c10::IValue()); break;        // NONE
        case 0x88: stack_.push_back(true); break;                // NEWTRUE
        case 0x89: stack_.push_back(false); break;               // NEWFALSE
        case 'J': stack_.push_back(static_cast<int64_t>(static_cast<int32_t>(LE(4)))); break;  // BININT
        case 'K': stack_.push_back(static_cast<int64_t>(U8())); break;                          // BININT1
        case 'M': stack_.push_back(static_cast<int64_t>(LE(2))); break;                         // BININT2
        case 0x8a: {                                                                             // LONG1
          uint8_t n = U8();
          if (n > 8) throw BadPickle("integer too large");
          uint64_t v = n ? LE(n) : 0;
          if (n && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);  // sign-extend
          stack_.push_back(static_cast<int64_t>(v));
          break;
        }
        case 'G': {                                                                              // BINFLOAT
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | U8();
          double d;
          std::memcpy(&d, &bits, 8);
          stack_.push_back(d);
          break;
        }
        case 'X': stack_.push_back(Str(LE(4))); break;           // BINUNICODE
        case 0x8c: stack_.push_back(Str(U8())); break;           // SHORT_BINUNICODE
        case 0x8d: stack_.push_back(Str(LE(8))); break;          // BINUNICODE8
        case 'T': stack_.push_back(Str(LE(4))); break;           // BINSTRING
        case 'U': stack_.push_back(Str(U8())); break;            // SHORT_BINSTRING
        case 'q': memo_[U8()] = Top(); break;                    // BINPUT
        case 'r': memo_[LE(4)] = Top(); break;                   // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = Top(); break;           // MEMOIZE
        case 'h': stack_.push_back(Memo(U8())); break;           // BINGET
        case 'j': stack_.push_back(Memo(LE(4))); break;          // LONG_BINGET
        case 'c': {                                              // GLOBAL "module\nname\n"
          std::string mod = Line(), name = Line();
          stack_.push_back(std::string(kGlobal) + mod + "." + name);
          break;
        }
        case 0x93: {                                             // STACK_GLOBAL
          auto name = Pop(), mod = Pop();
          if (!mod.isString() || !name.isString()) throw BadPickle("malformed STACK_GLOBAL");
          stack_.push_back(std::string(kGlobal) + mod.toStringRef() + "." + name.toStringRef());
          break;
        }
        case 't': stack_.push_back(c10::ivalue::Tuple::create(PopMark())); break;  // TUPLE
        case 0x85: stack_.push_back(c10::ivalue::Tuple::create({Pop()})); break;   // TUPLE1
        case 0x86: {                                                                // TUPLE2
          auto b = Pop(), a = Pop();
          stack_.push_back(c10::ivalue::Tuple::create({a, b}));
          break;
        }
        case 0x87: {                                                                // TUPLE3
          auto c = Pop(), b = Pop(), a = Pop();
          stack_.push_back(c10::ivalue::Tuple::create({a, b, c}));
          break;
        }
        case 'a': {                                                                 // APPEND
          auto v = Pop();
          List(Top()).push_back(v);
          break;
        }
        case 'e': {                                                                 // APPENDS
          auto items = PopMark();
          auto l = List(Top());
          for (auto& v : items) l.push_back(v);
          break;
        }
        case 's': {                                                                 // SETITEM
          auto v = Pop(), k = Pop();
          Dict(Top()).insert_or_assign(Key(k), v);
          break;
        }
        case 'u': {                                                                 // SETITEMS
          auto items = PopMark();
          if (items.size() % 2) throw BadPickle("malformed SETITEMS");
          auto d = Dict(Top());
          for (size_t i = 0; i < items.size(); i += 2) d.insert_or_assign(Key(items[i]), items[i + 1]);
          break;
        }
        case 'R':                                                                   // REDUCE
        case 0x81: {                                                                // NEWOBJ
          auto args = Pop(), fn = Pop();
          if (!args.isTuple()) throw BadPickle("malformed REDUCE");
          stack_.push_back(Call(GlobalName(fn), args.toTupleRef().elements().vec()));
          break;
        }
        case 'b': {  // BUILD: only OrderedDict state (the _metadata of state dicts), which we drop
          Pop();
          if (!Top().isGenericDict()) throw BadPickle("unsupported BUILD on a " + Top().tagKind());
          break;
        }
        case 'Q': {                                                                 // BINPERSID
          auto pid = Pop();
          stack_.push_back(Storage(pid));
          break;
        }
        default: {
          std::ostringstream m;
          m << "unsupported pickle opcode 0x" << std::hex << int(op) << " at byte " << std::dec << (pos_ - 1);
          throw BadPickle(m.str());
        }
      }
    }
  }

 private:
  static c10::impl::GenericDict NewDict() { return c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get()); }

  void Need(size_t n) {
    if (pos_ + n > n_) throw BadPickle("truncated pickle data");
  }
  uint8_t U8() {
    Need(1);
    return static_cast<uint8_t>(p_[pos_++]);
  }
  uint64_t LE(size_t n) {
    Need(n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t(static_cast<uint8_t>(p_[pos_ + i])) << (8 * i);
    pos_ += n;
    return v;
  }
  void Take(size_t n) {
    Need(n);
    pos_ += n;
  }
  std::string Str(uint64_t n) {
    if (n > n_) throw BadPickle("truncated pickle data");
    Need(n);
    std::string s(p_ + pos_, n);
    pos_ += n;
    return s;
  }
  std::string Line() {
    size_t end = pos_;
    while (end < n_ && p_[end] != '\n') ++end;
    if (end >= n_) throw BadPickle("truncated pickle data");
    std::string s(p_ + pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  c10::IValue& Top() {
    if (stack_.empty()) throw BadPickle("malformed pickle (empty stack)");
    return stack_.back();
  }
  c10::IValue Pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
      throw BadPickle("malformed pickle (empty stack)");
    }
    auto v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  std::vector<c10::IValue> PopMark() {
    if (marks_.empty()) throw BadPickle("malformed pickle (no MARK)");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<c10::IValue> items(std::make_move_iterator(stack_.begin() + m), std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }
  c10::IValue Memo(uint64_t k) {
    auto it = memo_.find(k);
    if (it == memo_.end()) throw BadPickle("malformed pickle (unknown memo key)");
    return it->second;
  }
  static c10::impl::GenericList List(const c10::IValue& v) {
    if (!v.isList()) throw BadPickle("malformed pickle (APPEND to a " + v.tagKind() + ")");
    return v.toList();
  }
  static c10::impl::GenericDict Dict(const c10::IValue& v) {
    if (!v.isGenericDict()) throw BadPickle("malformed pickle (SETITEM on a " + v.tagKind() + ")");
    return v.toGenericDict();
  }
  static c10::IValue Key(const c10::IValue& k) {
    if (!(k.isString() || k.isInt() || k.isBool() || k.isDouble() || k.isNone() || k.isTuple())) {
      throw BadPickle("unsupported dict key of type " + k.tagKind());
    }
    return k;
  }
  static std::string GlobalName(const c10::IValue& v) {
    if (!v.isString() || v.toStringRef().rfind(kGlobal, 0) != 0) throw BadPickle("malformed pickle (call of a non-global)");
    return v.toStringRef().substr(std::strlen(kGlobal));
  }

  c10::IValue Call(const std::string& fn, const std::vector<c10::IValue>& a) {
    if (fn == "collections.OrderedDict" || fn == "builtins.dict") {
      if (!a.empty()) throw BadPickle("unsupported OrderedDict arguments");
      return NewDict();
    }
    if (fn == "torch._utils._rebuild_tensor_v2" || fn == "torch._utils._rebuild_tensor") {
      if (a.size() < 4 || !a[0].isTensor() || !a[1].isInt() || !a[2].isTuple() || !a[3].isTuple()) {
        throw BadPickle("malformed tensor record");
      }
      auto ints = [](const c10::IValue& t) {
        std::vector<int64_t> out;
        for (const auto& e : t.toTupleRef().elements()) {
          if (!e.isInt() || e.toInt() < 0) throw BadPickle("malformed tensor shape");
          out.push_back(e.toInt());
        }
        return out;
      };
      at::Tensor storage = a[0].toTensor();
      auto t = at::empty({0}, storage.options());
      if (a[1].toInt() < 0) throw BadPickle("malformed tensor offset");
      t.set_(storage.storage(), storage.storage_offset() + a[1].toInt(), ints(a[2]), ints(a[3]));  // bounds-checked by libtorch
      return t;
    }
    if (fn == "torch._utils._rebuild_parameter" || fn == "torch._utils._rebuild_parameter_with_state") {
      if (a.empty() || !a[0].isTensor()) throw BadPickle("malformed parameter record");
      return a[0];
    }
    throw BadPickle("unsupported Python object '" + fn +
                    "' (only tensors, dicts, lists, tuples, strings and numbers are read, like "
                    "torch.load(weights_only=True))");
  }

  // ('storage', type, key, location, numel) in zip files; legacy files add a sixth, view metadata
  // (view_key, offset, view_numel) or None.
  c10::IValue Storage(const c10::IValue& pid) {
    if (!pid.isTuple()) throw BadPickle("malformed persistent id");
    const c10::ArrayRef<c10::IValue> e = pid.toTupleRef().elements().asArrayRef();
    if (e.size() < 5 || !e[0].isString() || e[0].toStringRef() != "storage" || !e[2].isString() || !e[4].isInt()) {
      throw BadPickle("malformed storage record");
    }
    if (!storages_) throw BadPickle("a tensor where none is expected");
    const std::string& key = e[2].toStringRef();
    auto cached = storages_by_key_.find(key);
    at::Tensor root;
    if (cached != storages_by_key_.end()) {
      root = cached->second;
    } else {
      const int64_t numel = e[4].toInt();
      if (numel < 0) throw BadPickle("malformed storage size");
      root = storages_->Get(key, StorageDtype(GlobalName(e[1])), numel);
      storages_by_key_.emplace(key, root);
    }
    if (e.size() >= 6 && e[5].isTuple()) {  // a view into the root storage
      const auto v = e[5].toTupleRef().elements().asArrayRef();
      if (v.size() < 3 || !v[1].isInt() || !v[2].isInt() || v[1].toInt() < 0 || v[2].toInt() < 0 ||
          v[1].toInt() + v[2].toInt() > root.numel()) {
        throw BadPickle("malformed storage view");
      }
      return root.narrow(0, v[1].toInt(), v[2].toInt());
    }
    return root;
  }

  const char* p_;
  size_t n_;
  size_t pos_;
  std::vector<c10::IValue> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, c10::IValue> memo_;
  StorageSource* storages_;
  std::unordered_map<std::string, at::Tensor> storages_by_key_;
};

}  // namespace

namespace {

// Zip format: storage `key` is the record data/<key>.
class ZipStorages : public StorageSource {
 public:
  ZipStorages(caffe2::serialize::PyTorchStreamReader& zip, TensorData tensors) : zip_(zip), tensors_(tensors) {}
  at::Tensor Get(const std::string& key, at::ScalarType dtype, int64_t numel) override {
    const std::string record = "data/" + key;
    if (!zip_.hasRecord(record)) throw BadPickle("missing tensor data record " + record);
    const size_t size = zip_.getRecordSize(record);
    if (static_cast<size_t>(numel) * c10::elementSize(dtype) != size) {
      throw BadPickle("tensor data record " + record + " has " + std::to_string(size) + " bytes, expected " +
                      std::to_string(numel * c10::elementSize(dtype)));
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
class LegacyStorages : public StorageSource {
 public:
  at::Tensor Get(const std::string& key, at::ScalarType dtype, int64_t numel) override {
    if (numel > (int64_t{1} << 36)) throw BadPickle("implausible storage size");
    auto t = at::empty({numel}, at::TensorOptions().dtype(dtype));
    storages_.emplace(key, t);
    return t;
  }
  std::unordered_map<std::string, at::Tensor> storages_;
};

// torch.save's legacy header: the magic number 0x1950a86a20f9469cfc6c pickled with protocol 2.
constexpr unsigned char kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                          0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

bool IsLegacy(const std::vector<char>& data) {
  return data.size() >= sizeof kLegacyMagic && std::memcmp(data.data(), kLegacyMagic, sizeof kLegacyMagic) == 0;
}

c10::IValue LoadLegacy(const std::vector<char>& data, TensorData tensors) {
  size_t pos = sizeof kLegacyMagic;
  Reader version(data.data(), data.size(), pos, nullptr);
  const c10::IValue v = version.Run();
  if (!v.isInt() || v.toInt() != 1001) throw BadPickle("unknown legacy protocol version");
  Reader sys_info(data.data(), data.size(), version.pos(), nullptr);
  const c10::IValue info = sys_info.Run();
  if (info.isGenericDict()) {
    auto it = info.toGenericDict().find(std::string("little_endian"));
    if (it != info.toGenericDict().end() && it->value().isBool() && !it->value().toBool()) {
      throw BadPickle("written on a big-endian machine");
    }
  }
  LegacyStorages storages;
  Reader main(data.data(), data.size(), sys_info.pos(), &storages);
  c10::IValue result = main.Run();
  Reader keys_reader(data.data(), data.size(), main.pos(), nullptr);
  const c10::IValue keys = keys_reader.Run();
  if (!keys.isList()) throw BadPickle("malformed storage key list");
  size_t p = keys_reader.pos();
  for (const auto& k : keys.toListRef()) {
    if (!k.isString()) throw BadPickle("malformed storage key list");
    auto it = storages.storages_.find(k.toStringRef());
    if (it == storages.storages_.end()) throw BadPickle("storage " + k.toStringRef() + " is listed but never used");
    at::Tensor& t = it->second;
    if (p + 8 > data.size()) throw BadPickle("cut short before storage " + k.toStringRef());
    int64_t numel = 0;
    std::memcpy(&numel, data.data() + p, 8);
    const size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
    if (numel != t.numel()) throw BadPickle("storage " + k.toStringRef() + " holds " + std::to_string(numel) +
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
  std::vector<char> data = ReadFile(path);
  if (data.empty()) throw std::runtime_error(path + " is empty (expected a file written by torch.save)");
  try {
    if (IsLegacy(data)) return LoadLegacy(data, tensors);
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + " is not a file torch.load can read: " + TorchMessage(e));
  } catch (const BadPickle& e) {
    throw std::runtime_error(path + " is a damaged or unsupported legacy torch.save file: " + e.what());
  }
  if (data.size() < 4 || std::memcmp(data.data(), "PK\x03\x04", 4) != 0) {
    throw std::runtime_error(path + " is not a file written by torch.save (neither its zip format nor the legacy "
                                    "format of PyTorch before 1.6)");
  }
  VerifyZip(data, path);
  try {
    caffe2::serialize::PyTorchStreamReader zip(
        std::make_shared<caffe2::serialize::MemoryReadAdapter>(data.data(), static_cast<off_t>(data.size())));
    if (!zip.hasRecord("data.pkl")) {
      throw BadPickle("no data.pkl record (a TorchScript archive? load those with loadTorchScript)");
    }
    auto [ptr, size] = zip.getRecord("data.pkl");
    std::vector<char> pkl(static_cast<const char*>(ptr.get()), static_cast<const char*>(ptr.get()) + size);
    ZipStorages storages(zip, tensors);
    return Reader(pkl.data(), pkl.size(), 0, &storages).Run();
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + " is not a file torch.load can read: " + TorchMessage(e));
  } catch (const BadPickle& e) {
    throw std::runtime_error(path + " is not a file resnet-cifar can read: " + e.what());
  }
}

}  // namespace resnet_cifar
