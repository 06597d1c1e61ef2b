#include "layouts.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "../nn/state_dict.h"

namespace resnet_cifar {

namespace {

using Tensors = std::map<std::string, at::Tensor>;

bool StartsWith(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// Our channel c of a stage's residual stream holds akamaster's channel Perm(stage)[c] (option A): stage 2 carries
// stage 1's 16 channels at their 8..23 (zeros at 0..7 and 24..31), ours at 0..15; stage 3 carries stage 2's 32 at
// their 16..47, ours at 0..31 (in stage 2's own order, hence the composition).
std::vector<int64_t> Perm(int stage) {
  std::vector<int64_t> p2(32), p3(64);
  for (int64_t o = 0; o < 32; ++o) p2[o] = o < 16 ? 8 + o : (o < 24 ? o - 16 : o);
  for (int64_t o = 0; o < 64; ++o) p3[o] = o < 32 ? 16 + p2[o] : (o < 48 ? o - 32 : o);
  return stage == 2 ? p2 : p3;
}

std::vector<int64_t> Inverse(const std::vector<int64_t>& p) {
  std::vector<int64_t> inv(p.size());
  for (size_t i = 0; i < p.size(); ++i) inv[static_cast<size_t>(p[i])] = static_cast<int64_t>(i);
  return inv;
}

// Which permutation applies to dimension `dim` of our tensor `name` (option A, akamaster order), if any.
// Returns {stage, dim}; stage 0 for none.
std::pair<int, int64_t> PermutedDim(const std::string& name) {
  if (StartsWith(name, "fc.weight")) return {3, 1};
  for (int s = 2; s <= 3; ++s) {
    const std::string p = "block" + std::to_string(s) + ".";
    if (!StartsWith(name, p)) continue;
    const std::string rest = name.substr(p.size());
    const size_t dot = rest.find('.');
    const int64_t block = std::stoll(rest.substr(0, dot));
    const std::string leaf = rest.substr(dot + 1);
    if (leaf == "conv2.weight") return {s, 0};
    if (StartsWith(leaf, "bn2.") && leaf != "bn2.num_batches_tracked") return {s, 0};
    if (leaf == "conv1.weight")
      return {block == 0 ? s - 1 : s, 1};  // its input: the previous stage's stream at block 0
  }
  return {0, 0};
}

at::Tensor Permute(const at::Tensor& t, int stage, int64_t dim, bool inverse) {
  if (stage < 2) return t;
  auto p = Perm(stage);
  if (inverse) p = Inverse(p);
  if (t.dim() <= dim || t.size(dim) != static_cast<int64_t>(p.size())) {
    throw std::runtime_error("a tensor has " + std::to_string(t.dim() > dim ? t.size(dim) : 0) +
                             " channels where a CIFAR ResNet stage has " + std::to_string(p.size()));
  }
  return t.index_select(dim, at::tensor(p, at::kLong));
}

std::string Rename(const std::string& k, bool to_ours) {
  const std::vector<std::pair<std::string, std::string>> ours_theirs = {{"conv.", "conv1."},    {"bn.", "bn1."},
                                                                        {"block1.", "layer1."}, {"block2.", "layer2."},
                                                                        {"block3.", "layer3."}, {"fc.", "linear."}};
  for (const auto& [o, t] : ours_theirs) {
    const std::string& from = to_ours ? t : o;
    const std::string& to = to_ours ? o : t;
    if (StartsWith(k, from)) return to + k.substr(from.size());
  }
  return k;
}

std::string KeysSeen(const Tensors& t) {
  std::string s;
  int i = 0;
  for (const auto& kv : t) {
    if (i++ == 8) return s + ", … (" + std::to_string(t.size()) + " keys)";
    s += (s.empty() ? "" : ", ") + kv.first;
  }
  return s.empty() ? "none" : s;
}

// Blocks per stage under `prefix` ("block" or "layer"); all three stages must have the same count.
int64_t BlocksPerStage(const Tensors& t, const std::string& prefix, const std::string& source) {
  int64_t counts[3] = {0, 0, 0};
  for (int s = 0; s < 3; ++s) {
    std::set<int64_t> ids;
    const std::string p = prefix + std::to_string(s + 1) + ".";
    for (const auto& kv : t) {
      if (!StartsWith(kv.first, p)) continue;
      const std::string rest = kv.first.substr(p.size());
      const size_t dot = rest.find('.');
      if (dot == std::string::npos || rest.find_first_not_of("0123456789") != dot) {
        throw std::runtime_error(source + ": unexpected key '" + kv.first + "'");
      }
      ids.insert(std::stoll(rest.substr(0, dot)));
    }
    counts[s] = static_cast<int64_t>(ids.size());
  }
  if (counts[0] == 0 || counts[0] != counts[1] || counts[1] != counts[2]) {
    throw std::runtime_error(source + ": its stages hold " + std::to_string(counts[0]) + ", " +
                             std::to_string(counts[1]) + " and " + std::to_string(counts[2]) +
                             " blocks; a CIFAR ResNet has n in each");
  }
  return counts[0];
}

}  // namespace

ImportedWeights ImportWeights(const c10::IValue& root, const std::string& source, const std::string& shortcut_hint) {
  if (!root.isGenericDict()) {
    throw std::runtime_error(source + " does not hold a state dict (expected a dict of name -> tensor, got " +
                             root.tagKind() + ")");
  }
  ImportedWeights out;
  c10::IValue sd = root;
  auto d = root.toGenericDict();
  for (const char* k : {"state_dict", "model", "net"}) {
    auto it = d.find(std::string(k));
    if (it != d.end() && it->value().isGenericDict()) {
      sd = it->value();
      for (const auto& kv : d) {
        const auto& v = kv.value();
        if (kv.key().isString() && kv.key().toStringRef() != k &&
            (v.isInt() || v.isDouble() || v.isString() || v.isBool())) {
          out.extras.emplace_back(kv.key().toStringRef(), v);
        }
      }
      break;
    }
  }
  Tensors t;
  for (const auto& kv : sd.toGenericDict()) {
    if (!kv.key().isString()) throw std::runtime_error(source + " does not hold a state dict (a key is not a string)");
    if (!kv.value().isTensor()) {
      throw std::runtime_error(source + " does not hold a state dict: '" + kv.key().toStringRef() + "' is a " +
                               kv.value().tagKind() + ", not a tensor");
    }
    t.emplace(kv.key().toStringRef(), kv.value().toTensor());
  }
  if (t.empty()) throw std::runtime_error(source + " holds an empty dict, not a state dict");
  if (std::all_of(t.begin(), t.end(), [](const auto& kv) { return StartsWith(kv.first, "module."); })) {
    Tensors stripped;
    for (auto& kv : t) stripped.emplace(kv.first.substr(7), kv.second);
    t.swap(stripped);
  }
  const bool ours = t.count("conv.weight") && t.count("fc.weight");
  const bool akamaster = t.count("conv1.weight") && t.count("linear.weight");
  if (!ours && !akamaster) {
    throw std::runtime_error(
        source + " holds a state dict of an unknown layout (keys: " + KeysSeen(t) +
        "); known layouts: resnet-cifar / the seed's nets.py (conv, bn, block1.0.conv1, …, fc) and "
        "akamaster/pytorch_resnet_cifar10 (conv1, bn1, layer1.0.conv1, …, linear)");
  }
  out.layout = ours ? "resnet-cifar" : "akamaster";
  const std::string stage_prefix = ours ? "block" : "layer";
  const int64_t n = BlocksPerStage(t, stage_prefix, source);
  const bool projection = t.count(stage_prefix + "2.0.shortcut.0.weight") > 0;
  Shortcut shortcut = projection ? Shortcut::B : Shortcut::A;
  if (!projection && !shortcut_hint.empty()) shortcut = ParseShortcut(shortcut_hint);
  const at::Tensor& fc = t.at(ours ? "fc.weight" : "linear.weight");
  if (fc.dim() != 2) throw std::runtime_error(source + ": the final layer's weight is not a matrix");
  const at::Tensor& stem = t.at(ours ? "conv.weight" : "conv1.weight");
  if (stem.dim() != 4 || (stem.size(1) != 1 && stem.size(1) != 3)) {
    throw std::runtime_error(source + ": the first convolution's weight is not of 1 or 3 input channels");
  }
  out.options = ResNetOptions(6 * n + 2).shortcut(shortcut).num_classes(fc.size(0)).in_channels(stem.size(1));
  // Ours: names as they are. akamaster: renamed, and for option A the stage-2/3 channels permuted into our order.
  c10::Dict<std::string, at::Tensor> result;
  for (const auto& [k, v] : t) {
    if (ours) {
      result.insert(k, v);
      continue;
    }
    const std::string name = Rename(k, /*to_ours=*/true);
    at::Tensor value = v;
    if (shortcut == Shortcut::A) {
      const auto [stage, dim] = PermutedDim(name);
      try {
        value = Permute(v, stage, dim, /*inverse=*/false);
      } catch (const std::runtime_error& e) {
        throw std::runtime_error(source + ": '" + k + "': " + e.what());
      }
    }
    result.insert(name, value);
  }
  // Checkpoints of PyTorch before 0.4.1 have no num_batches_tracked; it does not affect outputs.
  for (const auto& [k, v] : t) {
    const std::string name = ours ? k : Rename(k, true);
    const size_t pos = name.rfind(".running_mean");
    if (pos != std::string::npos && pos + 13 == name.size()) {
      const std::string nbt = name.substr(0, pos) + ".num_batches_tracked";
      if (!result.contains(nbt)) result.insert(nbt, at::zeros({}, at::kLong));
    }
  }
  out.state_dict = result;
  return out;
}

c10::impl::GenericDict ExportWeights(const ResNet& net, const std::string& layout) {
  if (layout != "resnet-cifar" && layout != "akamaster") throw std::invalid_argument("unknown layout '" + layout + "'");
  if (layout == "akamaster" && net->options.shortcut() == Shortcut::Plain) {
    throw std::invalid_argument("akamaster's code has no plain (shortcut-free) networks");
  }
  c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
  for (const auto& kv : StateDict(net)) {
    if (layout == "resnet-cifar") {
      out.insert(kv.key(), kv.value());
      continue;
    }
    at::Tensor v = kv.value();
    if (net->options.shortcut() == Shortcut::A) {
      const auto [stage, dim] = PermutedDim(kv.key());
      v = Permute(v, stage, dim, /*inverse=*/true).contiguous();
    }
    out.insert(Rename(kv.key(), /*to_ours=*/false), v);
  }
  return out;
}

}  // namespace resnet_cifar
