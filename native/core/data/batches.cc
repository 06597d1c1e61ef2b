#include "batches.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>

namespace resnet_cifar {

static uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// The generator of draw `index` in stream `stream` (1: epoch order, 2: augmentation of an iteration).
static at::Generator StreamGenerator(uint64_t seed, uint64_t stream, uint64_t index) {
  return at::make_generator<at::CPUGeneratorImpl>(SplitMix(seed ^ SplitMix(stream * 0x100000000ULL + index)));
}

BatchMaker::BatchMaker(const Dataset& data, Normalization norm, BatchOptions options, c10::Device device)
    : images_(data.images().to(device)),
      labels_(data.labels().to(device)),
      shape_(data.shape()),
      norm_(std::move(norm)),
      opt_(options),
      device_(device) {
  norm_.CheckFits(shape_);
  if (opt_.pad < 0 || opt_.pad > kMaxPad) {
    throw std::invalid_argument("pad must be 0 to " + std::to_string(kMaxPad) + ", got " + std::to_string(opt_.pad));
  }
  norm_.mean = norm_.mean.to(device).contiguous();
  norm_.std = norm_.std.to(device).contiguous();
  n_ = labels_.size(0);
  shard_ = (n_ + opt_.world_size - 1) / opt_.world_size;
  per_epoch_ = (shard_ + opt_.batch - 1) / opt_.batch;
}

// One pass that writes normalized floats straight into the training layout (single-threaded: about 1 ms a batch of
// 128 CIFAR images, made between two training steps; see FitLoop::Loop).
at::Tensor BatchMaker::CropCpu(const BatchDraw& d) const {
  const int64_t b = d.index.size(0);
  const int64_t C = shape_.channels, H = shape_.height, W = shape_.width, P = opt_.pad;
  const int64_t plane = H * W, pixels = C * plane;
  auto x = at::empty({b, C, H, W}, at::TensorOptions()
                                       .dtype(at::kFloat)
                                       .memory_format(opt_.channels_last ? at::MemoryFormat::ChannelsLast
                                                                         : at::MemoryFormat::Contiguous));
  float* out = x.data_ptr<float>();
  const uint8_t* src = images_.data_ptr<uint8_t>();
  const float* m = norm_.mean.data_ptr<float>();
  const float* s = norm_.std.data_ptr<float>();
  const bool pixel = norm_.kind == NormKind::kPixel;
  const int64_t* ip = d.index.data_ptr<int64_t>();
  const int64_t* yp = d.dy.data_ptr<int64_t>();
  const int64_t* xp = d.dx.data_ptr<int64_t>();
  const bool* fp = d.flip.data_ptr<bool>();
  const bool cl = opt_.channels_last;
  for (int64_t i = 0; i < b; ++i) {
    const uint8_t* img = src + ip[i] * pixels;
    float* o = out + i * pixels;
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t y = 0; y < H; ++y) {
        const int64_t sy = yp[i] + y - P;
        for (int64_t xx = 0; xx < W; ++xx) {
          const int64_t sx = xp[i] + (fp[i] ? W - 1 - xx : xx) - P;
          const uint8_t v = (sy < 0 || sy >= H || sx < 0 || sx >= W) ? 0 : img[c * plane + sy * W + sx];
          const float mu = pixel ? m[c * plane + y * W + xx] : m[c];
          o[cl ? (y * W + xx) * C + c : c * plane + y * W + xx] = Normalization::Value(v, mu, s[c]);
        }
      }
    }
  }
  return x;
}

// The same crop as one gather on whichever device holds the data.
at::Tensor BatchMaker::CropGeneric(const BatchDraw& d) const {
  const int64_t b = d.index.size(0);
  const int64_t C = shape_.channels, H = shape_.height, W = shape_.width, P = opt_.pad;
  auto opts = at::TensorOptions().dtype(at::kLong).device(device_);
  auto rows = d.dy.unsqueeze(1) + at::arange(H, opts);  // b x H
  auto aw = at::arange(W, opts);
  auto cols = at::where(d.flip.unsqueeze(1), d.dx.unsqueeze(1) + (W - 1) - aw, d.dx.unsqueeze(1) + aw);
  auto padded = at::constant_pad_nd(images_.index_select(0, d.index), {P, P, P, P}, 0);  // b x C x H+2P x W+2P
  auto bi = at::arange(b, opts).view({b, 1, 1, 1});
  auto ci = at::arange(C, opts).view({1, C, 1, 1});
  auto crop = padded.index({bi, ci, rows.view({b, 1, H, 1}), cols.view({b, 1, 1, W})});
  auto x = norm_.Apply(crop);
  return opt_.channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
}

Batch BatchMaker::Make(int64_t it, BatchDraw* draw) {
  c10::NoGradGuard no_grad;
  const int64_t epoch = it / per_epoch_, k = it % per_epoch_;
  if (epoch != order_epoch_) {
    auto g = StreamGenerator(opt_.seed, 1, static_cast<uint64_t>(epoch));
    order_ = at::randperm(n_, g, at::kLong);
    if (opt_.world_size > 1) {
      const int64_t total = shard_ * opt_.world_size;
      auto padded = order_.repeat({(total + n_ - 1) / n_}).narrow(0, 0, total);
      order_ = padded.narrow(0, opt_.rank, total - opt_.rank).slice(0, 0, c10::nullopt, opt_.world_size).contiguous();
    }
    order_epoch_ = epoch;
  }
  const int64_t start = k * opt_.batch, b = std::min(opt_.batch, shard_ - start);
  auto g = StreamGenerator(opt_.seed, 2 + 16 * static_cast<uint64_t>(opt_.rank), static_cast<uint64_t>(it));
  // Rows: image index, crop offsets dy and dx, flip. On a device they travel as one block, copied without waiting
  // (pinned memory on CUDA): the host runs ahead of the GPU and only waits at report points.
  const int64_t offsets = 2 * opt_.pad + 1;
  auto rows = at::stack({order_.narrow(0, start, b), at::randint(0, offsets, {b}, g, at::kLong),
                         at::randint(0, offsets, {b}, g, at::kLong), at::randint(0, 2, {b}, g, at::kLong)});
  if (!opt_.flip) rows[3].zero_();
  if (device_.is_cuda()) rows = rows.pin_memory();
  if (!device_.is_cpu()) rows = rows.to(device_, /*non_blocking=*/true);
  BatchDraw d{rows[0], rows[1], rows[2], rows[3].to(at::kBool)};
  Batch out{device_.is_cpu() && !opt_.generic ? CropCpu(d) : CropGeneric(d), labels_.index_select(0, d.index)};
  if (draw) *draw = d;
  return out;
}

Prefetcher::Prefetcher(BatchMaker& maker) : maker_(maker), thread_([this] { Loop(); }) {}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Prefetcher::Request(int64_t it) {
  std::lock_guard<std::mutex> l(mu_);
  want_ = it;
  cv_.notify_all();
}

Batch Prefetcher::Take(int64_t it) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return (ready_ == it && want_ < 0) || error_; });
  if (error_) std::rethrow_exception(error_);
  ready_ = -1;
  return std::move(batch_);
}

void Prefetcher::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || want_ >= 0; });
    if (stop_) return;
    const int64_t it = want_;
    l.unlock();
    Batch b;
    std::exception_ptr err;
    try {
      b = maker_.Make(it);
    } catch (...) {
      err = std::current_exception();
    }
    l.lock();
    if (err) error_ = err;
    batch_ = std::move(b);
    ready_ = it;
    if (want_ == it) want_ = -1;
    cv_.notify_all();
  }
}

}  // namespace resnet_cifar
