#include "sharp_resize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

namespace resnet_cifar {
namespace {

// libvips's constants (vips/interpolate.h): masks at 64 + 1 sub-pixel positions, in 12-bit fixed point.
constexpr int kTransformShift = 6;
constexpr int kTransformScale = 1 << kTransformShift;
constexpr int kInterpolateShift = 12;
constexpr int kInterpolateScale = 1 << kInterpolateShift;
// vips_resize's default reducing gap: a reduce by `gap` or more starts with a box shrink, which this path leaves to
// sharp.
constexpr double kGap = 2.0;
constexpr int kMaxPoints = 2000;  // libvips's MAX_POINT
// libvips works out the positions of the reducev's output rows in tiles of this many rows (the line cache sharp's
// sequential reads put after a reducev): the first of a tile from its index, the next ones by adding the factor, in
// double. The positions in reduceh's rows start over at the first column kept (fit 'cover''s crop).
constexpr int64_t kReducevTileRows = 10;

double Sinc(double x) {
  if (x == 0.0) return 1.0;
  x = x * M_PI;
  return std::sin(x) / x;
}

double Lanczos3(double x) { return (x >= -3 && x <= 3) ? Sinc(x) * Sinc(x / 3) : 0.0; }

// One direction of libvips's vips_reduceh / vips_reducev (uchar, Lanczos3): where each output pixel reads and with
// which 12-bit mask.
struct Reduce {
  int64_t out_size = 0;
  int points = 0, pad = 0;
  double factor = 0, offset = 0;
  std::vector<std::vector<int16_t>> masks;  // kTransformScale + 1 of `points` each

  // False when libvips would do something else (a box pre-shrink, a mask too long).
  bool Plan(int64_t in, double f) {
    factor = f;
    out_size = static_cast<int64_t>(static_cast<double>(in) / f + 0.5);  // VIPS_ROUND_UINT
    if (out_size <= 0) return false;
    const double extra = static_cast<double>(out_size) * f - static_cast<double>(in);
    if (std::max(1.0, std::floor(static_cast<double>(in) / static_cast<double>(out_size) / kGap)) > 1) return false;
    points = 2 * static_cast<int>(std::rint(3 * f)) + 1;
    if (points > kMaxPoints) return false;
    offset = (1 + extra) / 2.0 - 1;
    pad = static_cast<int>(std::ceil(points / 2.0)) - 1;
    masks.assign(kTransformScale + 1, std::vector<int16_t>(static_cast<size_t>(points)));
    std::vector<double> c(static_cast<size_t>(points));
    for (int t = 0; t <= kTransformScale; ++t) {
      const double x = static_cast<double>(static_cast<float>(t) / kTransformScale);
      const double half = x + points / 2.0 - 1;
      double sum = 0.0;
      for (int i = 0; i < points; ++i) {
        c[static_cast<size_t>(i)] = Lanczos3((i - half) / f);
        sum += c[static_cast<size_t>(i)];
      }
      for (int i = 0; i < points; ++i) {
        c[static_cast<size_t>(i)] /= sum;
        masks[static_cast<size_t>(t)][static_cast<size_t>(i)] =
            static_cast<int16_t>(c[static_cast<size_t>(i)] * kInterpolateScale);
      }
    }
    return true;
  }

  // Where libvips starts summing positions for a run that begins at output position `start`.
  double Start(int64_t start) const { return (static_cast<double>(start) + 0.5) * factor - 0.5 - offset; }

  // For the position `pos` (as libvips sums it): the first input index (before clamping to the edge) and its mask.
  void At(double pos, int64_t& first, const int16_t*& mask) const {
    const int ip = static_cast<int>(pos);
    const int sub = static_cast<int>(pos * kTransformScale * 2) & (kTransformScale * 2 - 1);
    first = ip - pad;
    mask = masks[static_cast<size_t>((sub + 1) >> 1)].data();
  }
};

// libvips's rounding is folded into the sums (they start at half a step); what is left: clamp to a byte.
uint8_t Clip(int32_t v) { return static_cast<uint8_t>(std::clamp(v, 0, 255)); }

// The plan for one axis, made once per thread for each (input size, factor): a dataset's images mostly share their
// size, and the masks' 2 × 65 × 13 sines cost more than the reduce itself. Shared, so that a plan in use outlives its
// eviction from the cache; null where the plan is not this path's.
std::shared_ptr<const Reduce> PlanFor(int64_t in, double factor) {
  struct Entry {
    int64_t in;
    double factor;
    std::shared_ptr<const Reduce> plan;
  };
  constexpr size_t kCached = 8;
  thread_local std::vector<Entry> cache;
  for (const Entry& e : cache) {
    if (e.in == in && e.factor == factor) return e.plan;
  }
  if (cache.size() == kCached) cache.erase(cache.begin());
  auto plan = std::make_shared<Reduce>();
  cache.push_back({in, factor, plan->Plan(in, factor) ? std::move(plan) : nullptr});
  return cache.back().plan;
}

// sharp's ResolveShrink: one shrink for both axes, the smaller ratio ('cover'; with equal aspect ratios every fit
// gives the same). 0 when this path leaves the image to sharp: another aspect ratio without 'cover', or an upscale.
double ShrinkFor(int64_t height, int64_t width, int64_t out_height, int64_t out_width, bool cover) {
  if (!cover && height * out_width != width * out_height) return 0;
  const double shrink = std::min(static_cast<double>(width) / static_cast<double>(out_width),
                                 static_cast<double>(height) / static_cast<double>(out_height));
  return shrink >= 1.0 ? shrink : 0;
}

}  // namespace

int SharpJpegShrink(int64_t height, int64_t width, int64_t out_height, int64_t out_width, bool cover) {
  const double shrink = ShrinkFor(height, width, out_height, out_width, cover);
  if (shrink == 0) return 0;
  // sharp's pipeline.cc with fastShrinkOnLoad (the default): the largest of 8, 4, 2 the shrink reaches, halved when
  // the shrink is exactly that whole number ("known libjpeg rounding errors").
  int s = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
  if (s > 1 && static_cast<int>(shrink) == s) s /= 2;
  return s;
}

bool ReduceLikeSharp(const uint8_t* in, int64_t height, int64_t width, const ImageShape& shape, bool cover,
                     uint8_t* out) {
  const int64_t c = shape.channels, oh = shape.height, ow = shape.width;
  const double shrink = ShrinkFor(height, width, oh, ow, cover);
  if (shrink == 0) return false;
  // vips_resize(1 / shrink, vscale 1 / shrink) reduces each axis by 1 / scale (when that is below 1), vertically
  // first; then sharp crops the centre: left = (resized width - width + 1) / 2, and the same for the top.
  const double scale = 1.0 / shrink;
  std::shared_ptr<const Reduce> v, h;
  if (scale < 1.0) {
    v = PlanFor(height, 1.0 / scale);
    h = v ? PlanFor(width, 1.0 / scale) : nullptr;
    if (!h) return false;
  }
  const int64_t rh = v ? v->out_size : height, rw = h ? h->out_size : width;
  if (rh < oh || rw < ow) return false;
  const int64_t top = (rh - oh + 1) / 2, left = (rw - ow + 1) / 2;
  const int64_t row_bytes = width * c;
  if (!v) {  // no resize: the crop alone
    for (int64_t y = 0; y < oh; ++y) {
      std::memcpy(out + y * ow * c, in + (top + y) * row_bytes + left * c, static_cast<size_t>(ow * c));
    }
    return true;
  }
  // reducev: the kept rows, edges repeated; bytes between the passes, as libvips keeps them. Taps outside, columns
  // inside.
  std::vector<uint8_t> mid(static_cast<size_t>(oh * row_bytes));
  std::vector<int32_t> acc(static_cast<size_t>(row_bytes));
  for (int64_t y = 0; y < oh; ++y) {
    const int64_t row = top + y, tile = row - row % kReducevTileRows;
    double pos = v->Start(tile);
    for (int64_t k = tile; k < row; ++k) pos += v->factor;
    int64_t first;
    const int16_t* mask;
    v->At(pos, first, mask);
    std::fill(acc.begin(), acc.end(), kInterpolateScale >> 1);
    for (int i = 0; i < v->points; ++i) {
      const int32_t m = mask[i];
      const uint8_t* row = in + std::clamp<int64_t>(first + i, 0, height - 1) * row_bytes;
      for (int64_t x = 0; x < row_bytes; ++x) acc[static_cast<size_t>(x)] += m * row[x];
    }
    uint8_t* to = mid.data() + y * row_bytes;
    for (int64_t x = 0; x < row_bytes; ++x) to[x] = Clip(acc[static_cast<size_t>(x)] >> kInterpolateShift);
  }
  // reduceh: the kept columns of the reduced rows (each column's byte offsets found once).
  std::vector<int64_t> at(static_cast<size_t>(h->points));
  double pos = h->Start(left);
  for (int64_t x = 0; x < ow; ++x, pos += h->factor) {
    int64_t first;
    const int16_t* mask;
    h->At(pos, first, mask);
    for (int i = 0; i < h->points; ++i) at[static_cast<size_t>(i)] = std::clamp<int64_t>(first + i, 0, width - 1) * c;
    for (int64_t y = 0; y < oh; ++y) {
      const uint8_t* row = mid.data() + y * row_bytes;
      int32_t sum[3] = {kInterpolateScale >> 1, kInterpolateScale >> 1, kInterpolateScale >> 1};
      for (int i = 0; i < h->points; ++i) {
        const int32_t m = mask[i];
        const uint8_t* p = row + at[static_cast<size_t>(i)];
        for (int64_t k = 0; k < c; ++k) sum[k] += m * p[k];
      }
      for (int64_t k = 0; k < c; ++k) out[(y * ow + x) * c + k] = Clip(sum[k] >> kInterpolateShift);
    }
  }
  return true;
}

}  // namespace resnet_cifar
