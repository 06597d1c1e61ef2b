// Bounds on what a file from a stranger can make the readers build, in one place. Each is far above what any real
// file needs (the largest real checkpoint, ResNet-1202 with its trainer state, needs a few percent of each) and far
// below what exhausts the C++ stack, memory or time. A file past one is an error naming the file and the bound.
#pragma once

#include <cstdint>

namespace resnet_cifar {

// Plain data (pickles, JSON): containers inside containers. A checkpoint nests 5 deep; a user's meta adds its own.
constexpr int kMaxNesting = 64;
// A user's meta saved from JS: kept well inside kMaxNesting so that every file we write reads back, in either
// format (the checkpoint and safetensors wrappers add their own levels).
constexpr int kMaxMetaNesting = 32;

// Values one pickle may create (each opcode makes at most one), and values it may expand to when values shared
// through the memo are counted at each place they appear (what converting it to JS or JSON produces). A ResNet-1202
// checkpoint with momentum creates about 250,000
// values, 11,000 of them dicts.
constexpr uint64_t kMaxPickleValues = uint64_t{1} << 21;
constexpr uint64_t kMaxPickleExpanded = uint64_t{1} << 21;
// Dicts, which cost far more memory each (a few KB): one per tensor record (its hooks) and a few more.
constexpr uint64_t kMaxPickleDicts = uint64_t{1} << 16;
// A zip's data.pkl record (a ResNet-1202 checkpoint's is about 3 MB).
constexpr uint64_t kMaxPickleBytes = uint64_t{64} << 20;
// Dimensions of one tensor.
constexpr int kMaxTensorDims = 64;

// Deflate cannot expand more than about 1032:1; a zip member declaring more than this of its compressed size is
// refused before anything is inflated.
constexpr uint64_t kMaxDeflateRatio = 1032;

// safetensors: the header (as the format's reference implementation bounds it) and the JSON values in it (a
// ResNet-1202 file has about 60,000).
constexpr uint64_t kMaxSafetensorsHeader = uint64_t{100} << 20;
constexpr uint64_t kMaxJsonValues = uint64_t{1} << 20;

// .tar.gz: the most bytes a GNU long name or a pax header may hold (real ones hold a path).
constexpr uint64_t kMaxTarMetaBytes = uint64_t{1} << 20;

}  // namespace resnet_cifar
