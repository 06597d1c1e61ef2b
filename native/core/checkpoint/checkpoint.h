// The checkpoint contract, in one place: our file format (readable by Python's torch.load(weights_only=True)),
// the trainer state a fit stores in it, and the checks that decide whether a fit can resume from one.
//
//   {"state_dict": {name: tensor},
//    "meta": {"format": "resnet-cifar", "format_version": 1, "depth", "shortcut", "num_classes", "libtorch",
//             "normalization"?: {"kind", "mean", "std"}, ...the user's plain data (e.g. "iteration", "run")},
//    "trainer"?: {"version", "iteration", "iterations", "seed", "batch_size", "train_size", "rng", "warmup_done",
//                 "precision", "world_size",
//                 "window": {...}, "momentum": {name: tensor}, "history": {"train": {...}, "eval": {...}}}}
#pragma once

#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../base/precision.h"
#include "../data/normalization.h"
#include "../formats/pickle.h"
#include "../nn/resnet.h"
#include "meta_json.h"
#include "trainer_state.h"

namespace resnet_cifar {

constexpr const char* kCheckpointFormat = "resnet-cifar";
constexpr int64_t kCheckpointFormatVersion = 1;

// Meta keys the format writes itself; a user's meta cannot set them (lib/ refuses them, by this list).
const std::vector<std::string>& ReservedMetaKeys();

struct Checkpoint {
  ResNetOptions options{20};
  std::string layout = "resnet-cifar";  // the state dict's original layout (layouts.h); weights are in ours
  c10::IValue state_dict;
  Meta meta = NewMeta();  // the user's part of the meta: reserved keys removed
  std::optional<Normalization> normalization;
  std::optional<TrainerState> trainer;
  std::string libtorch;  // the version that wrote it
};

// The whole meta dict as written: reserved keys from the model, the normalization, then the user's `meta`.
Meta FullMeta(const ResNetOptions& options, const Meta& meta, const std::optional<Normalization>& normalization);

std::vector<char> CheckpointBytes(const ResNet& net, const Meta& meta,
                                  const std::optional<Normalization>& normalization,
                                  const TrainerState* trainer = nullptr);

// Reads and checks one of our files (torch.save or safetensors format); errors name it. TensorData::kSkip reads no
// tensor data (meta and trainer summary only): the state dict and momentum then hold shape-only placeholders.
Checkpoint ReadCheckpoint(const std::string& path, TensorData tensors = TensorData::kLoad);
// The same from the file's bytes, `name` naming it in errors (the fuzzing harnesses call these two).
Checkpoint ReadCheckpointBytes(const std::vector<char>& bytes, const std::string& name,
                               TensorData tensors = TensorData::kLoad);

// Weights from any file we read: our checkpoints, or a foreign state dict or training checkpoint (torch.save's zip
// or legacy format, or safetensors) in a layout of layouts.h, imported into ours with meta
// {"imported": {"layout", "file", ...numbers beside the weights}} and no normalization. `shortcut_hint`: see
// ImportWeights.
Checkpoint ReadWeights(const std::string& path, const std::string& shortcut_hint = "");
Checkpoint ReadWeightsBytes(const std::vector<char>& bytes, const std::string& name,
                            const std::string& shortcut_hint = "");

// How weights are written: our checkpoint in torch.save's format or in safetensors (our meta as JSON in
// __metadata__), or a plain state dict in the seed's or akamaster's layout (torch.save format; akamaster's as its
// training script writes them: {'state_dict': {'module.' + name: tensor}}).
enum class WeightsFormat { kCheckpoint, kSafetensors, kSeedStateDict, kAkamaster };
WeightsFormat ParseWeightsFormat(const std::string& s);  // "checkpoint" | "safetensors" | "state-dict" | "akamaster"
std::vector<char> WeightsBytes(const ResNet& net, WeightsFormat format, const Meta& meta,
                               const std::optional<Normalization>& normalization);

// Whether a fit of `model` with this seed, batch size, training set size and number of ranks can continue `ck`
// exactly; a std::runtime_error "Cannot resume from <path>: ..." saying what differs otherwise.
void CheckResumable(const std::string& path, const Checkpoint& ck, const ResNetOptions& model, uint64_t seed,
                    int64_t batch_size, int64_t train_size, int64_t world_size = 1);

}  // namespace resnet_cifar
