#include "checkpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include "common.h"

namespace resnet_cifar {

static const char* kFormat = "resnet-cifar";
static const int64_t kFormatVersion = 1;

std::string DescribeModel(const ResNetOptions& o) {
  return "ResNet-" + std::to_string(o.depth()) + " (shortcut " + ShortcutName(o.shortcut()) + ", " +
         std::to_string(o.num_classes()) + " classes)";
}

std::vector<char> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("Cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error("Cannot read " + path + ": not a regular file");
  }
  std::vector<char> data(static_cast<size_t>(st.st_size));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t r = ::read(fd, data.data() + off, data.size() - off);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      std::string err = std::strerror(errno);
      ::close(fd);
      throw std::runtime_error("Cannot read " + path + ": " + err);
    }
    if (r == 0) break;  // shrank while reading
    off += static_cast<size_t>(r);
  }
  ::close(fd);
  data.resize(off);
  return data;
}

void RemoveStaleTemps(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const std::string prefix = (slash == std::string::npos ? path : path.substr(slash + 1)) + ".tmp-";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind(prefix, 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) ::unlink((dir + "/" + name).c_str());
  }
  ::closedir(d);
}

void WriteFileAtomic(const std::string& path, const std::vector<char>& bytes) {
  std::random_device rd;
  const std::string tmp = path + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(rd());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("Cannot write " + path + ": " + std::strerror(errno));
  // Fault injection for the crash-safety tests: RESNET_CIFAR_WRITE_DELAY_MS pauses half-way through each write,
  // so that a kill lands inside it.
  static const long delay_ms = [] {
    const char* e = std::getenv("RESNET_CIFAR_WRITE_DELAY_MS");
    return e ? std::strtol(e, nullptr, 10) : 0L;
  }();
  size_t off = 0;
  while (off < bytes.size()) {
    const size_t chunk = delay_ms > 0 && off == 0 ? bytes.size() / 2 : bytes.size() - off;
    if (delay_ms > 0 && off > 0 && off == bytes.size() / 2) ::usleep(static_cast<useconds_t>(delay_ms) * 1000);
    ssize_t w = ::write(fd, bytes.data() + off, chunk);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error("Cannot write " + path + ": " + err);
    }
    off += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw std::runtime_error("Cannot write " + path + ": " + err);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw std::runtime_error("Cannot write " + path + ": " + err);
  }
  // Make the rename itself durable.
  std::string dir = path.substr(0, path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/'));
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

c10::Dict<std::string, at::Tensor> StateDict(const ResNet& net) {
  c10::Dict<std::string, at::Tensor> out;
  for (const auto& p : net->named_parameters(true)) out.insert(p.key(), p.value().detach().to(torch::kCPU).clone(torch::MemoryFormat::Contiguous));
  for (const auto& b : net->named_buffers(true)) out.insert(b.key(), b.value().detach().to(torch::kCPU).clone(torch::MemoryFormat::Contiguous));
  return out;
}

static std::string ShapeStr(const at::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

void ApplyStateDict(ResNet& net, const c10::IValue& value, const std::string& source) {
  if (!value.isGenericDict()) {
    throw std::runtime_error(source + " does not hold a state dict (expected a dict of name -> tensor, got " +
                             value.tagKind() + ")");
  }
  std::map<std::string, at::Tensor> file;
  for (const auto& kv : value.toGenericDict()) {
    if (!kv.key().isString()) throw std::runtime_error(source + " does not hold a state dict (a key is not a string)");
    if (!kv.value().isTensor()) {
      throw std::runtime_error(source + " does not hold a state dict: '" + kv.key().toStringRef() +
                               "' is a " + kv.value().tagKind() + ", not a tensor");
    }
    file.emplace(kv.key().toStringRef(), kv.value().toTensor());
  }
  if (file.empty()) throw std::runtime_error(source + " holds an empty dict, not a state dict");
  bool all_module = true;
  for (const auto& kv : file) all_module = all_module && kv.first.rfind("module.", 0) == 0;
  if (all_module) {
    std::map<std::string, at::Tensor> stripped;
    for (auto& kv : file) stripped.emplace(kv.first.substr(7), kv.second);
    file.swap(stripped);
  }
  const std::string what = DescribeModel(net->options);
  // Fold conv biases into the following BN: BN(conv(x) + b) == BN'(conv(x)) with running_mean' = running_mean - b.
  for (const auto& [conv, bn] : net->ConvBnPairs()) {
    auto bias = file.find(conv + ".bias");
    auto mean = file.find(bn + ".running_mean");
    if (bias == file.end()) continue;
    if (mean == file.end() || bias->second.sizes() != mean->second.sizes()) {
      throw std::runtime_error(source + " does not match " + what + ": cannot fold '" + conv +
                               ".bias' into '" + bn + ".running_mean'");
    }
    mean->second = mean->second.to(torch::kFloat) - bias->second.to(torch::kFloat);
    file.erase(bias);
  }
  std::vector<std::pair<std::string, at::Tensor>> targets;
  for (const auto& p : net->named_parameters(true)) targets.emplace_back(p.key(), p.value());
  for (const auto& b : net->named_buffers(true)) targets.emplace_back(b.key(), b.value());
  for (const auto& [name, t] : targets) {
    auto it = file.find(name);
    if (it == file.end()) {
      throw std::runtime_error(source + " does not match " + what + ": missing key '" + name + "' (shape " +
                               ShapeStr(t) + ")");
    }
    if (it->second.sizes() != t.sizes()) {
      throw std::runtime_error(source + " does not match " + what + ": key '" + name + "' has shape " +
                               ShapeStr(it->second) + " in the file but " + ShapeStr(t) + " in the model");
    }
  }
  std::map<std::string, bool> known;
  for (const auto& kv : targets) known[kv.first] = true;
  for (const auto& kv : file) {
    if (!known.count(kv.first)) {
      throw std::runtime_error(source + " does not match " + what + ": unexpected key '" + kv.first +
                               "' (shape " + ShapeStr(kv.second) + ")");
    }
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : targets) t.copy_(file.at(name));
}

// torch::pickle_save, but without the TorchScript type tags on dicts and lists (restore_type_tag), which
// Python's torch.load(weights_only=True) refuses: the result reads in Python as plain dicts, lists and tensors.
std::vector<char> PickleSave(const c10::IValue& value) {
  std::vector<char> pickle_data;
  torch::jit::Pickler pickler(
      [&](const char* buf, size_t size) { pickle_data.insert(pickle_data.end(), buf, buf + size); },
      /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
      /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::vector<char> out;
  out.reserve(pickle_data.size() + 1024);
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t len) -> size_t {
    const char* bytes = static_cast<const char*>(data);
    out.insert(out.end(), bytes, bytes + len);
    return len;
  });
  torch::jit::writeArchiveAndTensors("data", pickle_data.data(), pickle_data.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  return out;
}

std::vector<char> CheckpointBytes(const ResNet& net, const c10::impl::GenericDict& extra_meta,
                                  const c10::impl::GenericDict* extra_root) {
  c10::impl::GenericDict meta(c10::StringType::get(), c10::AnyType::get());
  meta.insert(std::string("format"), std::string(kFormat));
  meta.insert(std::string("format_version"), kFormatVersion);
  meta.insert(std::string("depth"), net->options.depth());
  meta.insert(std::string("shortcut"), ShortcutName(net->options.shortcut()));
  meta.insert(std::string("num_classes"), net->options.num_classes());
  meta.insert(std::string("libtorch"), std::string(TORCH_VERSION));
  for (const auto& kv : extra_meta) meta.insert_or_assign(kv.key(), kv.value());
  c10::impl::GenericDict root(c10::StringType::get(), c10::AnyType::get());
  root.insert(std::string("state_dict"), StateDict(net));
  root.insert(std::string("meta"), meta);
  if (extra_root) {
    for (const auto& kv : *extra_root) root.insert_or_assign(kv.key(), kv.value());
  }
  return PickleSave(root);
}

static const c10::IValue* Field(const c10::impl::GenericDict& d, const std::string& key) {
  auto it = d.find(key);
  return it == d.end() ? nullptr : &it->value();
}

CheckpointData ReadCheckpoint(const std::string& path) {
  c10::IValue root = LoadPickle(path);
  const std::string not_ours = path + " is not a resnet-cifar checkpoint (expected a dict with 'state_dict' and "
                                      "'meta' written by ResNet.save";
  if (!root.isGenericDict()) throw std::runtime_error(not_ours + ", got " + root.tagKind() + ")");
  auto d = root.toGenericDict();
  for (const auto& kv : d) {
    if (!kv.key().isString()) throw std::runtime_error(not_ours + ")");
  }
  const c10::IValue* sd = Field(d, "state_dict");
  const c10::IValue* meta = Field(d, "meta");
  if (!sd || !meta || !meta->isGenericDict()) {
    throw std::runtime_error(not_ours + "; a plain PyTorch state dict loads with loadStateDict)");
  }
  CheckpointData out;
  out.meta = meta->toGenericDict();
  const c10::IValue* fmt = Field(out.meta, "format");
  if (!fmt || !fmt->isString() || fmt->toStringRef() != kFormat) {
    throw std::runtime_error(not_ours + "; its meta has no format 'resnet-cifar')");
  }
  const c10::IValue* ver = Field(out.meta, "format_version");
  if (!ver || !ver->isInt() || ver->toInt() > kFormatVersion) {
    throw std::runtime_error(path + " is a resnet-cifar checkpoint of format version " +
                             (ver && ver->isInt() ? std::to_string(ver->toInt()) : std::string("?")) +
                             "; this build reads up to version " + std::to_string(kFormatVersion));
  }
  const c10::IValue* depth = Field(out.meta, "depth");
  const c10::IValue* shortcut = Field(out.meta, "shortcut");
  const c10::IValue* classes = Field(out.meta, "num_classes");
  if (!depth || !depth->isInt() || !shortcut || !shortcut->isString() || !classes || !classes->isInt()) {
    throw std::runtime_error(path + ": checkpoint meta lacks depth, shortcut or num_classes");
  }
  out.options = ResNetOptions(depth->toInt())
                    .shortcut(ParseShortcut(shortcut->toStringRef()))
                    .num_classes(classes->toInt());
  out.state_dict = *sd;
  out.root = d;
  return out;
}

}  // namespace resnet_cifar
