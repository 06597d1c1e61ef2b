#include "checkpoint.h"

#include <torch/version.h>

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "../base/files.h"
#include "../codecs/json.h"
#include "../formats/layouts.h"
#include "../formats/safetensors.h"
#include "../nn/state_dict.h"

namespace resnet_cifar {

const std::vector<std::string>& ReservedMetaKeys() {
  static const std::vector<std::string> keys = {"format",      "format_version", "depth",         "shortcut",
                                                "num_classes", "libtorch",       "normalization", "in_channels"};
  return keys;
}

static bool Reserved(const c10::IValue& key) {
  if (!key.isString()) return false;
  for (const auto& k : ReservedMetaKeys()) {
    if (key.toStringRef() == k) return true;
  }
  return false;
}

Meta FullMeta(const ResNetOptions& options, const Meta& meta, const std::optional<Normalization>& normalization) {
  Meta out = NewMeta();
  out.insert(std::string("format"), std::string(kCheckpointFormat));
  out.insert(std::string("format_version"), kCheckpointFormatVersion);
  out.insert(std::string("depth"), options.depth());
  out.insert(std::string("shortcut"), ShortcutName(options.shortcut()));
  out.insert(std::string("num_classes"), options.num_classes());
  if (options.in_channels() != 3) out.insert(std::string("in_channels"), options.in_channels());  // absent: 3
  out.insert(std::string("libtorch"), std::string(TORCH_VERSION));
  if (normalization) out.insert(std::string("normalization"), normalization->ToDict());
  for (const auto& kv : meta) {
    if (!Reserved(kv.key())) out.insert_or_assign(kv.key(), kv.value());
  }
  return out;
}

// ---- the file

std::vector<char> CheckpointBytes(const ResNet& net, const Meta& meta,
                                  const std::optional<Normalization>& normalization, const TrainerState* trainer) {
  Meta root = NewMeta();
  root.insert(std::string("state_dict"), StateDict(net));
  root.insert(std::string("meta"), FullMeta(net->options, meta, normalization));
  if (trainer) root.insert(std::string("trainer"), TrainerDict(*trainer));
  return PickleSave(root);
}

// ---- reading

// Our checkpoint from its root dict (torch.save) or its meta (safetensors); `not_ours` is the error for a file that
// is not one, which ReadWeights turns into an import instead.
struct NotOurs : std::runtime_error {
  using std::runtime_error::runtime_error;
};

static Checkpoint FromParts(const std::string& path, const Meta& m, const c10::IValue& state_dict,
                            const c10::IValue* trainer) {
  auto field = [&](const char* key) -> const c10::IValue* {
    auto it = m.find(std::string(key));
    return it == m.end() ? nullptr : &it->value();
  };
  const c10::IValue* ver = field("format_version");
  if (!ver || !ver->isInt() || ver->toInt() > kCheckpointFormatVersion) {
    throw std::runtime_error(path + " is a resnet-cifar checkpoint of format version " +
                             (ver && ver->isInt() ? std::to_string(ver->toInt()) : std::string("?")) +
                             "; this build reads up to version " + std::to_string(kCheckpointFormatVersion));
  }
  const c10::IValue* depth = field("depth");
  const c10::IValue* shortcut = field("shortcut");
  const c10::IValue* classes = field("num_classes");
  if (!depth || !depth->isInt() || !shortcut || !shortcut->isString() || !classes || !classes->isInt()) {
    throw std::runtime_error(path + ": checkpoint meta lacks depth, shortcut or num_classes");
  }
  Checkpoint out;
  try {
    out.options =
        ResNetOptions(depth->toInt()).shortcut(ParseShortcut(shortcut->toStringRef())).num_classes(classes->toInt());
    if (const c10::IValue* c = field("in_channels")) {
      if (!c->isInt() || (c->toInt() != 1 && c->toInt() != 3)) {
        throw std::invalid_argument("checkpoint meta's in_channels is not 1 or 3");
      }
      out.options.in_channels(c->toInt());
    }
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  if (const c10::IValue* lt = field("libtorch"); lt && lt->isString()) out.libtorch = lt->toStringRef();
  if (const c10::IValue* n = field("normalization")) out.normalization = Normalization::FromDict(*n, path);
  for (const auto& kv : m) {
    if (!Reserved(kv.key())) out.meta.insert_or_assign(kv.key(), kv.value());
  }
  out.state_dict = state_dict;
  if (trainer) out.trainer = ReadTrainerState(*trainer, path);
  return out;
}

static const char* kNotOursHint = " (expected a dict with 'state_dict' and 'meta' written by ResNet.save";

// A torch.save file: ours, or NotOurs.
static Checkpoint ParseTorchSave(const std::string& path, const c10::IValue& root) {
  const std::string not_ours = path + " is not a resnet-cifar checkpoint" + kNotOursHint;
  if (!root.isGenericDict()) throw NotOurs(not_ours + ", got " + root.tagKind() + ")");
  auto d = root.toGenericDict();
  for (const auto& kv : d) {
    if (!kv.key().isString()) throw NotOurs(not_ours + ")");
  }
  auto field = [&](const char* key) -> const c10::IValue* {
    auto it = d.find(std::string(key));
    return it == d.end() ? nullptr : &it->value();
  };
  const c10::IValue* sd = field("state_dict");
  const c10::IValue* meta = field("meta");
  if (!sd || !meta || !meta->isGenericDict())
    throw NotOurs(not_ours + "; a PyTorch state dict opens with ResNet.load)");
  auto m = meta->toGenericDict();
  auto fmt = m.find(std::string("format"));
  if (fmt == m.end() || !fmt->value().isString() || fmt->value().toStringRef() != kCheckpointFormat) {
    throw NotOurs(not_ours + "; its meta has no format 'resnet-cifar')");
  }
  return FromParts(path, m, *sd, field("trainer"));
}

// A safetensors file: ours (our meta in __metadata__), or NotOurs with the tensors as a state dict.
static Checkpoint ParseSafetensorsFile(const std::string& path, const Safetensors& st, c10::IValue* foreign) {
  c10::Dict<std::string, at::Tensor> sd;
  for (const auto& [k, t] : st.tensors) sd.insert(k, t);
  std::string fmt, meta_json;
  for (const auto& [k, v] : st.metadata) {
    if (k == "format") fmt = v;
    if (k == "meta") meta_json = v;
  }
  if (fmt != kCheckpointFormat || meta_json.empty()) {
    *foreign = sd;
    throw NotOurs(path + " is a safetensors file without resnet-cifar's meta");
  }
  Json j;
  try {
    j = ParseJson(meta_json);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(path + ": its resnet-cifar meta is not valid JSON: " + e.what());
  }
  const c10::IValue m = PlainDataFromJson(j);
  if (!m.isGenericDict()) throw std::runtime_error(path + ": its resnet-cifar meta is not an object");
  return FromParts(path, m.toGenericDict(), sd, nullptr);
}

Checkpoint ReadCheckpoint(const std::string& path, TensorData tensors) {
  return ReadCheckpointBytes(ReadFile(path), path, tensors);
}

Checkpoint ReadCheckpointBytes(const std::vector<char>& bytes, const std::string& path, TensorData tensors) {
  if (LooksLikeSafetensors(bytes, bytes.size())) {
    c10::IValue foreign;
    try {
      return ParseSafetensorsFile(path, ParseSafetensors(bytes, path), &foreign);
    } catch (const NotOurs& e) {
      throw std::runtime_error(std::string(e.what()) + " (open a foreign state dict with ResNet.load)");
    }
  }
  try {
    return ParseTorchSave(path, LoadPickleBytes(bytes, path, tensors));
  } catch (const NotOurs& e) {
    throw std::runtime_error(e.what());
  }
}

Checkpoint ReadWeights(const std::string& path, const std::string& shortcut_hint) {
  return ReadWeightsBytes(ReadFile(path), path, shortcut_hint);
}

Checkpoint ReadWeightsBytes(const std::vector<char>& bytes, const std::string& path, const std::string& shortcut_hint) {
  c10::IValue foreign;
  try {
    if (LooksLikeSafetensors(bytes, bytes.size()))
      return ParseSafetensorsFile(path, ParseSafetensors(bytes, path), &foreign);
    foreign = LoadPickleBytes(bytes, path);
    return ParseTorchSave(path, foreign);
  } catch (const NotOurs&) {
    // A foreign state dict or training checkpoint: imported into our layout.
  }
  ImportedWeights w = ImportWeights(foreign, path, shortcut_hint);
  Checkpoint out;
  out.options = w.options;
  out.state_dict = w.state_dict;
  out.layout = w.layout;
  Meta imported = NewMeta();
  imported.insert(std::string("layout"), w.layout);
  imported.insert(std::string("file"),
                  path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1));
  for (const auto& [k, v] : w.extras) imported.insert_or_assign(k, v);
  out.meta.insert(std::string("imported"), imported);
  return out;
}

// ---- writing

WeightsFormat ParseWeightsFormat(const std::string& s) {
  if (s == "checkpoint") return WeightsFormat::kCheckpoint;
  if (s == "safetensors") return WeightsFormat::kSafetensors;
  if (s == "state-dict") return WeightsFormat::kSeedStateDict;
  if (s == "akamaster") return WeightsFormat::kAkamaster;
  throw std::invalid_argument("unknown weights format '" + s + "'");
}

std::vector<char> WeightsBytes(const ResNet& net, WeightsFormat format, const Meta& meta,
                               const std::optional<Normalization>& normalization) {
  switch (format) {
    case WeightsFormat::kCheckpoint: return CheckpointBytes(net, meta, normalization);
    case WeightsFormat::kSafetensors: {
      Safetensors st;
      for (const auto& kv : StateDict(net)) st.tensors.emplace_back(kv.key(), kv.value());
      st.metadata = {{"format", kCheckpointFormat},
                     {"format_version", std::to_string(kCheckpointFormatVersion)},
                     {"meta", PlainDataToJson(FullMeta(net->options, meta, normalization))}};
      return SafetensorsBytes(st);
    }
    case WeightsFormat::kSeedStateDict: return PickleSave(ExportWeights(net, "resnet-cifar"));
    case WeightsFormat::kAkamaster: {
      c10::impl::GenericDict sd(c10::StringType::get(), c10::AnyType::get());
      for (const auto& kv : ExportWeights(net, "akamaster")) sd.insert("module." + kv.key().toStringRef(), kv.value());
      Meta root = NewMeta();
      root.insert(std::string("state_dict"), sd);
      return PickleSave(root);
    }
  }
  throw std::invalid_argument("unknown weights format");
}

void CheckResumable(const std::string& path, const Checkpoint& ck, const ResNetOptions& model, uint64_t seed,
                    int64_t batch_size, int64_t train_size, int64_t world_size) {
  const std::string cannot = "Cannot resume from " + path + ": ";
  if (ck.options.depth() != model.depth() || ck.options.shortcut() != model.shortcut() ||
      ck.options.num_classes() != model.num_classes() || ck.options.in_channels() != model.in_channels()) {
    throw std::runtime_error(cannot + "it holds " + DescribeModel(ck.options) + " but this model is " +
                             DescribeModel(model));
  }
  if (!ck.trainer) throw std::runtime_error(cannot + "it has no trainer state (it was written by save, not fit)");
  const TrainerState& t = *ck.trainer;
  if (t.seed != seed || t.batch_size != batch_size || t.train_size != train_size) {
    throw std::runtime_error(cannot + "it was trained with seed " + std::to_string(t.seed) + ", batch size " +
                             std::to_string(t.batch_size) + " on " + std::to_string(t.train_size) +
                             " images, but this fit has seed " + std::to_string(seed) + ", batch size " +
                             std::to_string(batch_size) + " on " + std::to_string(train_size));
  }
  if (t.world_size != world_size) {
    throw std::runtime_error(cannot + "it was trained by " + std::to_string(t.world_size) +
                             " rank(s) (a global batch of " + std::to_string(t.world_size * t.batch_size) +
                             "), but this fit has " + std::to_string(world_size) +
                             " (the data order and batches would differ)");
  }
  if (!ck.normalization) throw std::runtime_error(cannot + "it does not store the normalization the run trained with");
}

}  // namespace resnet_cifar
