// Files: checkpoints readable by Python's torch.load(weights_only=True), PyTorch state dicts, atomic writes.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "resnet.h"

namespace resnet_cifar {

std::vector<char> ReadFile(const std::string& path);
// Writes to a temporary file beside `path`, fsyncs, renames over `path`: readers see the old or the new file.
void WriteFileAtomic(const std::string& path, const std::vector<char>& bytes);

// Checks every member of a zip archive (torch.save / torch.jit.save) against its stored CRC-32; an error naming
// the file and the damaged member otherwise.
void VerifyZip(const std::vector<char>& bytes, const std::string& path);

// Deletes `path.tmp-PID-*` files that a process killed mid-write (PID no longer running) left beside `path`.
void RemoveStaleTemps(const std::string& path);

// torch.load-compatible pickle of any file torch.save wrote (and of ours); errors name the file.
c10::IValue LoadPickle(const std::string& path);

// name -> CPU tensor, parameters and buffers, seed naming.
c10::Dict<std::string, at::Tensor> StateDict(const ResNet& net);

// Copies a state dict (a dict str -> tensor, e.g. torch.save(model.state_dict())) into `net`.
// Strict: the first missing, unexpected or wrongly shaped key is an error naming it and both shapes.
// A leading "module." (DataParallel) is stripped; conv biases (the seed's default bias=True convs) are folded
// into the running mean of the BN that follows, which gives identical eval-mode outputs.
void ApplyStateDict(ResNet& net, const c10::IValue& dict, const std::string& source);

struct CheckpointData {
  ResNetOptions options{20};
  c10::IValue state_dict;
  c10::impl::GenericDict meta{c10::StringType::get(), c10::AnyType::get()};
  c10::impl::GenericDict root{c10::StringType::get(), c10::AnyType::get()};  // the whole file (e.g. 'trainer')
};

// {"state_dict": {...}, "meta": {"format": "resnet-cifar", "format_version": 1, "depth", "shortcut", ...}}
// `extra_root` entries (e.g. the trainer's state) are stored beside state_dict and meta.
std::vector<char> CheckpointBytes(const ResNet& net, const c10::impl::GenericDict& extra_meta,
                                  const c10::impl::GenericDict* extra_root = nullptr);
CheckpointData ReadCheckpoint(const std::string& path);

// Any IValue of dicts, lists, strings, numbers and tensors, in the format of Python's torch.save.
std::vector<char> PickleSave(const c10::IValue& value);

std::string DescribeModel(const ResNetOptions& o);

}  // namespace resnet_cifar
