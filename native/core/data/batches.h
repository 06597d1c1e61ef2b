// Training batches: the epoch's data order, and each image zero-padded by `pad` (the paper's 4), randomly cropped
// back to its size, flipped left-right at random (unless `flip` is off) and normalized. Every draw is a pure function
// of (seed, epoch) or (seed, iteration), so the batch of any iteration is known without replaying the ones before it:
// exact resume, and prefetching cannot shift the random stream.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "dataset.h"
#include "normalization.h"

namespace resnet_cifar {

struct BatchOptions {
  int64_t batch = 128;
  uint64_t seed = 0;
  bool channels_last = true;  // the batch in NHWC memory order (what the network trains on)
  bool generic = false;       // the torch-ops path other devices use, on the CPU too (tests compare the two)
  // Augmentation: zero-pad by `pad` and crop at a random offset (0: no crop), random horizontal flips. The draws are
  // the same either way (offsets in 0..2*pad, a flip bit), so the stream of data orders does not depend on them.
  int64_t pad = 4;
  bool flip = true;
  // Data-parallel training: this rank's shard of every epoch's permutation, as DistributedSampler takes it (the
  // permutation padded with its own first indices to a multiple of world_size, then every world_size-th from
  // `rank`); each rank draws its own augmentation. The global batch is world_size * batch.
  int64_t rank = 0;
  int64_t world_size = 1;
};

constexpr int64_t kMaxPad = 64;

struct Batch {
  at::Tensor x;  // normalized float, on the training device
  at::Tensor y;  // int64 labels
};

// What was drawn for a batch: which images, crop offsets into the padded image, flips.
struct BatchDraw {
  at::Tensor index, dy, dx, flip;
};

class BatchMaker {
 public:
  // The images and labels go to `device` once; batches are cut and augmented there. std::invalid_argument when
  // `norm` does not fit the images (Normalization::CheckFits) or the pad is outside 0..kMaxPad.
  BatchMaker(const Dataset& data, Normalization norm, BatchOptions options, c10::Device device);

  int64_t PerEpoch() const { return per_epoch_; }
  // The batch of iteration `it` (the last batch of an epoch is partial, as DataLoader's drop_last=False).
  Batch Make(int64_t it, BatchDraw* draw = nullptr);

 private:
  at::Tensor CropCpu(const BatchDraw& d) const;
  at::Tensor CropGeneric(const BatchDraw& d) const;

  at::Tensor images_, labels_;
  ImageShape shape_;
  Normalization norm_;
  BatchOptions opt_;
  c10::Device device_;
  int64_t n_ = 0, shard_ = 0, per_epoch_ = 1;
  int64_t order_epoch_ = -1;
  at::Tensor order_;
};

// One background thread that prepares the batch of iteration k+1 while iteration k computes (on a device; on the
// CPU the fit makes each batch between steps, see FitLoop::Loop).
class Prefetcher {
 public:
  explicit Prefetcher(BatchMaker& maker);
  ~Prefetcher();
  void Request(int64_t it);
  Batch Take(int64_t it);  // waits for Request(it)'s batch; rethrows its error

 private:
  void Loop();

  BatchMaker& maker_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  int64_t want_ = -1, ready_ = -1;
  Batch batch_;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace resnet_cifar
