#include "trainer_state.h"

#include <stdexcept>

namespace resnet_cifar {

// Plain (generic) lists: typed ones pickle as torch.jit._pickle.build_doublelist, which weights_only refuses.
template <class R>
static c10::impl::GenericList Column(const std::vector<R>& v, double R::*f) {
  c10::impl::GenericList l(c10::AnyType::get());
  for (const auto& r : v) l.push_back(r.*f);
  return l;
}

Meta TrainerDict(const TrainerState& s) {
  Meta t = NewMeta();
  t.insert(std::string("version"), kTrainerStateVersion);
  t.insert(std::string("iteration"), s.iteration);
  t.insert(std::string("iterations"), s.iterations);
  t.insert(std::string("seed"), static_cast<int64_t>(s.seed));
  t.insert(std::string("batch_size"), s.batch_size);
  t.insert(std::string("train_size"), s.train_size);
  t.insert(std::string("rng"), std::string("splitmix64(seed, epoch) order, splitmix64(seed, iteration) augmentation"));
  t.insert(std::string("warmup_done"), s.warmup_done);
  t.insert(std::string("precision"), std::string(PrecisionName(s.precision)));
  t.insert(std::string("world_size"), s.world_size);
  Meta win = NewMeta();
  win.insert(std::string("loss"), s.window.loss);
  win.insert(std::string("correct"), s.window.correct);
  win.insert(std::string("count"), s.window.count);
  win.insert(std::string("start"), s.window.start);
  t.insert(std::string("window"), win);
  c10::Dict<std::string, at::Tensor> mom;
  for (const auto& [name, buf] : s.momentum) {
    mom.insert(name, buf.detach().to(at::kCPU).clone(at::MemoryFormat::Contiguous));
  }
  t.insert(std::string("momentum"), mom);
  Meta tr = NewMeta(), ev = NewMeta(), hist = NewMeta();
  tr.insert(std::string("iteration"), Column(s.train, &TrainRecord::iteration));
  tr.insert(std::string("epoch"), Column(s.train, &TrainRecord::epoch));
  tr.insert(std::string("lr"), Column(s.train, &TrainRecord::lr));
  tr.insert(std::string("loss"), Column(s.train, &TrainRecord::loss));
  tr.insert(std::string("error"), Column(s.train, &TrainRecord::error));
  tr.insert(std::string("images_per_second"), Column(s.train, &TrainRecord::images_per_second));
  ev.insert(std::string("iteration"), Column(s.eval, &EvalRecord::iteration));
  ev.insert(std::string("error"), Column(s.eval, &EvalRecord::error));
  ev.insert(std::string("loss"), Column(s.eval, &EvalRecord::loss));
  hist.insert(std::string("train"), tr);
  hist.insert(std::string("eval"), ev);
  t.insert(std::string("history"), hist);
  return t;
}

namespace {

// Typed access to a dict read from a file: a missing or mistyped entry is an error naming the file and the key.
class Fields {
 public:
  Fields(const c10::IValue& v, std::string path, std::string where) : path_(std::move(path)), where_(std::move(where)) {
    if (!v.isGenericDict()) throw Bad("is not a dict");
    d_ = v.toGenericDict();
  }
  const c10::IValue& Get(const char* key) const {
    auto it = d_.find(std::string(key));
    if (it == d_.end()) throw Bad("lacks '" + std::string(key) + "'");
    return it->value();
  }
  int64_t Int(const char* key) const {
    const auto& v = Get(key);
    if (!v.isInt()) throw Bad("has a non-integer '" + std::string(key) + "'");
    return v.toInt();
  }
  double Double(const char* key) const {
    const auto& v = Get(key);
    if (!v.isDouble() && !v.isInt()) throw Bad("has a non-numeric '" + std::string(key) + "'");
    return v.isDouble() ? v.toDouble() : static_cast<double>(v.toInt());
  }
  bool Bool(const char* key) const {
    const auto& v = Get(key);
    if (!v.isBool()) throw Bad("has a non-boolean '" + std::string(key) + "'");
    return v.toBool();
  }
  Fields Dict(const char* key) const { return Fields(Get(key), path_, where_ + "." + key); }
  std::vector<double> Doubles(const char* key) const {
    const auto& v = Get(key);
    if (!v.isList()) throw Bad("has a non-list '" + std::string(key) + "'");
    std::vector<double> out;
    for (const auto& e : v.toListRef()) {
      if (!e.isDouble() && !e.isInt()) throw Bad("has a non-numeric entry in '" + std::string(key) + "'");
      out.push_back(e.isDouble() ? e.toDouble() : static_cast<double>(e.toInt()));
    }
    return out;
  }
  const c10::impl::GenericDict& dict() const { return d_; }

 private:
  std::runtime_error Bad(const std::string& what) const {
    return std::runtime_error(path_ + ": " + where_ + " " + what);
  }
  c10::impl::GenericDict d_{c10::StringType::get(), c10::AnyType::get()};
  std::string path_, where_;
};

}  // namespace

TrainerState ReadTrainerState(const c10::IValue& v, const std::string& path) {
  Fields t(v, path, "trainer state");
  if (t.Int("version") > kTrainerStateVersion) {
    throw std::runtime_error(path + ": its trainer state (version " + std::to_string(t.Int("version")) +
                             ") is newer than this build reads (" + std::to_string(kTrainerStateVersion) + ")");
  }
  TrainerState s;
  s.iteration = t.Int("iteration");
  s.iterations = t.Int("iterations");
  s.seed = static_cast<uint64_t>(t.Int("seed"));
  s.batch_size = t.Int("batch_size");
  s.train_size = t.Int("train_size");
  s.warmup_done = t.Bool("warmup_done");
  if (t.dict().contains(std::string("world_size"))) s.world_size = t.Int("world_size");  // before distributed: 1
  if (t.dict().contains(std::string("precision"))) {  // written since bf16 training; before it, fp32
    const c10::IValue& p = t.Get("precision");
    try {
      if (!p.isString()) throw std::invalid_argument("");
      s.precision = ParsePrecision(p.toStringRef());
    } catch (const std::invalid_argument&) {
      throw std::runtime_error(path + ": trainer state has an unknown precision");
    }
  }
  Fields win = t.Dict("window");
  s.window.loss = win.Double("loss");
  s.window.correct = win.Int("correct");
  s.window.count = win.Int("count");
  s.window.start = win.Int("start");
  const Fields momentum = t.Dict("momentum");
  for (const auto& kv : momentum.dict()) {
    if (!kv.key().isString() || !kv.value().isTensor()) throw std::runtime_error(path + ": malformed momentum buffers");
    s.momentum.emplace_back(kv.key().toStringRef(), kv.value().toTensor());
  }
  Fields hist = t.Dict("history");
  Fields tr = hist.Dict("train"), ev = hist.Dict("eval");
  auto ti = tr.Doubles("iteration"), te = tr.Doubles("epoch"), tl = tr.Doubles("lr"), tlo = tr.Doubles("loss"),
       ter = tr.Doubles("error"), tips = tr.Doubles("images_per_second");
  for (size_t i = 0;
       i < ti.size() && i < te.size() && i < tl.size() && i < tlo.size() && i < ter.size() && i < tips.size(); ++i) {
    s.train.push_back({ti[i], te[i], tl[i], tlo[i], ter[i], tips[i]});
  }
  auto ei = ev.Doubles("iteration"), ee = ev.Doubles("error"), el = ev.Doubles("loss");
  for (size_t i = 0; i < ei.size() && i < ee.size() && i < el.size(); ++i) s.eval.push_back({ei[i], ee[i], el[i]});
  return s;
}

}  // namespace resnet_cifar
