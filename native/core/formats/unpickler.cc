// The restricted pickle reader behind torch_load.cc (torch.save's zip and legacy formats).
// Like torch.load(weights_only=True) it builds only plain data: dicts (OrderedDict too), lists, tuples, strings,
// numbers, booleans, None and tensors; any other Python object is an error naming it, so a hostile file can
// neither run code nor reach an unexpected code path. (libtorch's own pickle_load cannot read state dicts
// that carry OrderedDict metadata, which every model.state_dict() does.)
//
// A file from a stranger is bounded (limits.h): the values one pickle creates, how deep they nest, how far values
// shared through the memo expand, and cycles through the memo (a list that holds itself) are refused; every tensor
// record must lie inside its storage, and every storage inside the bytes the file holds. Whatever a pickle built is
// torn down one level at a time, so that no structure it made, however deep or cyclic, recurses on destruction.
#include <sys/types.h>

#include <ATen/ATen.h>
#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "../base/errors.h"
#include "../base/files.h"
#include "../base/limits.h"
#include "pickle.h"
#include "unpickle.h"

namespace resnet_cifar {
namespace {

constexpr const char* kGlobal = "\x01global:";  // marks a resolved GLOBAL on the stack

at::ScalarType StorageDtype(const std::string& name) {
  static const std::unordered_map<std::string, at::ScalarType> m = {
      {"torch.FloatStorage", at::kFloat},       {"torch.DoubleStorage", at::kDouble}, {"torch.HalfStorage", at::kHalf},
      {"torch.BFloat16Storage", at::kBFloat16}, {"torch.LongStorage", at::kLong},     {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort},       {"torch.CharStorage", at::kChar},     {"torch.ByteStorage", at::kByte},
      {"torch.BoolStorage", at::kBool},
  };
  // Storages saved from a GPU (torch.cuda.FloatStorage, ...) load on the CPU.
  const std::string cpu = name.rfind("torch.cuda.", 0) == 0 ? "torch." + name.substr(11) : name;
  auto it = m.find(cpu);
  if (it == m.end()) throw BadPickle("unsupported storage type " + name);
  return it->second;
}

class Reader {
 public:
  // Reads one pickle from data[start, size); pos() is where it ended.
  Reader(const char* data, size_t size, size_t start, StorageSource* storages)
      : p_(data), n_(size), pos_(start), storages_(storages) {}
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  ~Reader() { TearDown(); }
  size_t pos() const { return pos_; }

  c10::IValue Run() {
    while (true) {
      uint8_t op = U8();
      switch (op) {
        case 0x80: U8(); break;     // PROTO
        case 0x95: Take(8); break;  // FRAME
        case '.':                   // STOP
          if (stack_.size() != 1) throw BadPickle("malformed pickle (stack at STOP)");
          Check(stack_.back());
          return stack_.back();
        case '(': marks_.push_back(stack_.size()); break;                          // MARK
        case '}': Push(NewDict()); break;                                          // EMPTY_DICT
        case ']': Push(c10::impl::GenericList(c10::AnyType::get())); break;        // EMPTY_LIST
        case ')': Push(c10::ivalue::Tuple::create({})); break;                     // EMPTY_TUPLE
        case 'N': Push(c10::IValue()); break;                                      // NONE
        case 0x88: Push(true); break;                                              // NEWTRUE
        case 0x89: Push(false); break;                                             // NEWFALSE
        case 'J': Push(static_cast<int64_t>(static_cast<int32_t>(LE(4)))); break;  // BININT
        case 'K': Push(static_cast<int64_t>(U8())); break;                         // BININT1
        case 'M': Push(static_cast<int64_t>(LE(2))); break;                        // BININT2
        case 0x8a: {                                                               // LONG1
          uint8_t n = U8();
          if (n > 8) throw BadPickle("integer too large");
          uint64_t v = n ? LE(n) : 0;
          if (n && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);  // sign-extend
          Push(static_cast<int64_t>(v));
          break;
        }
        case 'G': {  // BINFLOAT
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | U8();
          double d;
          std::memcpy(&d, &bits, 8);
          Push(d);
          break;
        }
        case 'X': Push(Str(LE(4))); break;              // BINUNICODE
        case 0x8c: Push(Str(U8())); break;              // SHORT_BINUNICODE
        case 0x8d: Push(Str(LE(8))); break;             // BINUNICODE8
        case 'T': Push(Str(LE(4))); break;              // BINSTRING
        case 'U': Push(Str(U8())); break;               // SHORT_BINSTRING
        case 'q': memo_[U8()] = Top(); break;           // BINPUT
        case 'r': memo_[LE(4)] = Top(); break;          // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = Top(); break;  // MEMOIZE
        case 'h': Push(Memo(U8())); break;              // BINGET
        case 'j': Push(Memo(LE(4))); break;             // LONG_BINGET
        case 'c': {                                     // GLOBAL "module\nname\n"
          std::string mod = Line(), name = Line();
          Push(std::string(kGlobal) + mod + "." + name);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          auto name = Pop(), mod = Pop();
          if (!mod.isString() || !name.isString()) throw BadPickle("malformed STACK_GLOBAL");
          Push(std::string(kGlobal) + mod.toStringRef() + "." + name.toStringRef());
          break;
        }
        case 't': Push(c10::ivalue::Tuple::create(PopMark())); break;  // TUPLE
        case 0x85: Push(c10::ivalue::Tuple::create({Pop()})); break;   // TUPLE1
        case 0x86: {                                                   // TUPLE2
          auto b = Pop(), a = Pop();
          Push(c10::ivalue::Tuple::create({a, b}));
          break;
        }
        case 0x87: {  // TUPLE3
          auto c = Pop(), b = Pop(), a = Pop();
          Push(c10::ivalue::Tuple::create({a, b, c}));
          break;
        }
        case 'a': {  // APPEND
          auto v = Pop();
          List(Top()).push_back(v);
          break;
        }
        case 'e': {  // APPENDS
          auto items = PopMark();
          auto l = List(Top());
          for (auto& v : items) l.push_back(v);
          break;
        }
        case 's': {  // SETITEM
          auto v = Pop(), k = Pop();
          Dict(Top()).insert_or_assign(Key(k), v);
          break;
        }
        case 'u': {  // SETITEMS
          auto items = PopMark();
          if (items.size() % 2) throw BadPickle("malformed SETITEMS");
          auto d = Dict(Top());
          for (size_t i = 0; i < items.size(); i += 2) d.insert_or_assign(Key(items[i]), items[i + 1]);
          break;
        }
        case 'R':     // REDUCE
        case 0x81: {  // NEWOBJ
          auto args = Pop(), fn = Pop();
          if (!args.isTuple()) throw BadPickle("malformed REDUCE");
          Push(Call(GlobalName(fn), args.toTupleRef().elements().vec()));
          break;
        }
        case 'b': {  // BUILD: only OrderedDict state (the _metadata of state dicts), which we drop
          Pop();
          if (!Top().isGenericDict()) throw BadPickle("unsupported BUILD on a " + Top().tagKind());
          break;
        }
        case 'Q': {  // BINPERSID
          auto pid = Pop();
          Push(Storage(pid));
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

  static bool IsContainer(const c10::IValue& v) { return v.isList() || v.isTuple() || v.isGenericDict(); }
  static const void* Identity(const c10::IValue& v) { return v.internalToPointer(); }
  static std::vector<c10::IValue> Children(const c10::IValue& v) {
    if (v.isList()) return v.toListRef().vec();
    if (v.isTuple()) return v.toTupleRef().elements().vec();
    std::vector<c10::IValue> out;
    for (const auto& kv : v.toGenericDict()) {
      out.push_back(kv.key());
      out.push_back(kv.value());
    }
    return out;
  }

  // Every value goes onto the stack through here: counted against kMaxPickleValues, containers kept for TearDown.
  void Push(c10::IValue v) {
    if (++made_ > kMaxPickleValues) {
      throw BadPickle("it creates more than " + std::to_string(kMaxPickleValues) +
                      " values (the limit for one pickle)");
    }
    if (IsContainer(v) && known_.insert(Identity(v)).second) {
      if (v.isGenericDict() && ++dicts_ > kMaxPickleDicts) {
        throw BadPickle("it creates more than " + std::to_string(kMaxPickleDicts) +
                        " dicts (the limit for one pickle)");
      }
      containers_.push_back(v);
    }
    stack_.push_back(std::move(v));
  }

  // The finished value, walked once without recursion: no container may hold itself, nest deeper than kMaxNesting,
  // or expand past kMaxPickleExpanded values when shared values are counted where they appear. The containers it
  // reaches are kept by TearDown.
  void Check(const c10::IValue& root) {
    if (!IsContainer(root)) return;
    struct Frame {
      c10::IValue value;
      std::vector<c10::IValue> kids;
      size_t next = 0;
      uint64_t size = 1;
    };
    const auto add = [](uint64_t a, uint64_t b) { return std::min(a + b, kMaxPickleExpanded + 1); };
    std::unordered_map<const void*, uint64_t> done;  // container -> its expanded size
    std::unordered_set<const void*> open;
    std::vector<Frame> frames;
    frames.push_back({root, Children(root)});
    open.insert(Identity(root));
    while (!frames.empty()) {
      Frame& f = frames.back();
      if (f.next < f.kids.size()) {
        c10::IValue kid = f.kids[f.next++];
        if (!IsContainer(kid)) {
          f.size = add(f.size, 1);
          continue;
        }
        const void* id = Identity(kid);
        if (auto it = done.find(id); it != done.end()) {
          f.size = add(f.size, it->second);
          continue;
        }
        if (open.count(id)) throw BadPickle("a container holds itself (a cycle through the pickle memo)");
        if (frames.size() >= static_cast<size_t>(kMaxNesting)) {
          throw BadPickle("its values nest deeper than " + std::to_string(kMaxNesting) + " levels");
        }
        open.insert(id);
        std::vector<c10::IValue> kids = Children(kid);
        frames.push_back({std::move(kid), std::move(kids)});  // f is not used past here
        continue;
      }
      const uint64_t size = f.size;
      const void* id = Identity(f.value);
      frames.pop_back();
      open.erase(id);
      done.emplace(id, size);
      if (size > kMaxPickleExpanded) {
        throw BadPickle("values shared through its memo expand to more than " + std::to_string(kMaxPickleExpanded) +
                        " values");
      }
      if (!frames.empty()) frames.back().size = add(frames.back().size, size);
    }
    for (const auto& [id, size] : done) kept_.insert(id);
  }

  // Releases what this reader built, one level at a time: lists and dicts that the result does not hold are
  // emptied (that breaks every cycle and every chain built by appending), then values go in reverse order of
  // creation, so that a tuple's elements, made before it, are still held here when it goes.
  void TearDown() noexcept {
    for (auto& c : containers_) {
      if (kept_.count(Identity(c))) continue;
      if (c.isList()) c.toList().clear();
      if (c.isGenericDict()) c.toGenericDict().clear();
    }
    stack_.clear();
    memo_.clear();
    while (!containers_.empty()) containers_.pop_back();
  }

  void Need(size_t n) {
    if (n > n_ - pos_) throw BadPickle("truncated pickle data");
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
  static bool IsScalar(const c10::IValue& k) {
    return k.isString() || k.isInt() || k.isBool() || k.isDouble() || k.isNone();
  }
  static c10::IValue Key(const c10::IValue& k) {
    if (k.isTuple()) {  // hashed element by element: only flat tuples of scalars
      for (const auto& e : k.toTupleRef().elements()) {
        if (!IsScalar(e)) throw BadPickle("unsupported dict key (a tuple holding a " + e.tagKind() + ")");
      }
      return k;
    }
    if (!IsScalar(k)) throw BadPickle("unsupported dict key of type " + k.tagKind());
    return k;
  }
  static std::string GlobalName(const c10::IValue& v) {
    if (!v.isString() || v.toStringRef().rfind(kGlobal, 0) != 0)
      throw BadPickle("malformed pickle (call of a non-global)");
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
      return Rebuild(a[0].toTensor(), a[1].toInt(), ints(a[2]), ints(a[3]));
    }
    if (fn == "torch._utils._rebuild_parameter" || fn == "torch._utils._rebuild_parameter_with_state") {
      if (a.empty() || !a[0].isTensor()) throw BadPickle("malformed parameter record");
      return a[0];
    }
    throw BadPickle("unsupported Python object '" + fn +
                    "' (only tensors, dicts, lists, tuples, strings and numbers are read, like "
                    "torch.load(weights_only=True))");
  }

  // A tensor over `storage` (a root storage, or a legacy view into one) at `offset` with these sizes and strides:
  // every element it reaches must lie inside the storage, which is never grown.
  static at::Tensor Rebuild(const at::Tensor& storage, int64_t offset, const std::vector<int64_t>& sizes,
                            const std::vector<int64_t>& strides) {
    if (sizes.size() != strides.size()) throw BadPickle("malformed tensor record (shape and strides differ in length)");
    if (sizes.size() > static_cast<size_t>(kMaxTensorDims)) {
      throw BadPickle("a tensor of " + std::to_string(sizes.size()) + " dimensions (at most " +
                      std::to_string(kMaxTensorDims) + " are read)");
    }
    if (offset < 0) throw BadPickle("malformed tensor offset");
    // One past the last element reached: offset + sum((size - 1) * stride) + 1, or offset when a size is 0.
    int64_t end = offset;
    bool empty = false;
    for (int64_t s : sizes) empty = empty || s == 0;
    if (!empty) {
      bool overflow = __builtin_add_overflow(end, int64_t{1}, &end);
      for (size_t i = 0; i < sizes.size() && !overflow; ++i) {
        int64_t reach = 0;
        overflow = __builtin_mul_overflow(sizes[i] - 1, strides[i], &reach) || __builtin_add_overflow(end, reach, &end);
      }
      if (overflow) throw BadPickle("a tensor record reaches past any storage (its shape and strides overflow)");
    }
    if (end > storage.numel()) {
      throw BadPickle("a tensor record reaches element " + std::to_string(end) + " of a storage of " +
                      std::to_string(storage.numel()));
    }
    return at::empty({0}, storage.options()).set_(storage.storage(), storage.storage_offset() + offset, sizes, strides);
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
          v[1].toInt() > root.numel() || v[2].toInt() > root.numel() - v[1].toInt()) {
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
  uint64_t made_ = 0, dicts_ = 0;          // values pushed, dicts made
  std::vector<c10::IValue> containers_;    // every container made, in order
  std::unordered_set<const void*> known_;  // ... by identity
  std::unordered_set<const void*> kept_;   // the containers the checked result holds
};

}  // namespace

c10::IValue Unpickle(const char* data, size_t size, size_t start, StorageSource* storages, size_t* end) {
  Reader r(data, size, start, storages);
  c10::IValue v = r.Run();
  if (end) *end = r.pos();
  return v;
}

}  // namespace resnet_cifar
