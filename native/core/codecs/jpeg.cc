#include "jpeg.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

// libjpeg-turbo's API is C; its headers need <cstdio> first.
extern "C" {
#include <jpeglib.h>
}

namespace resnet_cifar {
namespace {

// A progressive file may hold any number of scans, each a pass over every coefficient: more than this and the file is
// left to sharp (libjpeg-turbo's own tools stop at 500 for the same reason).
constexpr int kMaxScans = 500;
constexpr uint16_t kExifOrientation = 0x0112;

// libjpeg reports errors by calling error_exit, which must not return: it jumps back to DecodeJpeg. Warnings (corrupt
// data libjpeg works around) are noted: sharp refuses such files (failOn 'warning'), so they are left to it.
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  bool warned;
};

[[noreturn]] void OnError(j_common_ptr c) { std::longjmp(reinterpret_cast<ErrorManager*>(c->err)->jump, 1); }

void OnMessage(j_common_ptr c, int level) {
  if (level < 0) reinterpret_cast<ErrorManager*>(c->err)->warned = true;
}

void OnProgress(j_common_ptr c) {
  if (c->is_decompressor && reinterpret_cast<j_decompress_ptr>(c)->input_scan_number > kMaxScans) OnError(c);
}

uint32_t Read(const unsigned char* p, int bytes, bool big_endian) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint32_t{p[big_endian ? i : bytes - 1 - i]} << (8 * (bytes - 1 - i));
  return v;
}

// The orientation an APP1 Exif segment gives (1 when it names none); 0 when the segment cannot be read.
int ExifOrientation(const unsigned char* p, size_t n) {
  if (n < 6 || std::memcmp(p, "Exif\0\0", 6) != 0) return 1;  // another APP1 (XMP): no orientation
  p += 6;
  n -= 6;
  if (n < 8) return 0;
  bool big;
  if (std::memcmp(p, "MM\0*", 4) == 0) {
    big = true;
  } else if (std::memcmp(p, "II*\0", 4) == 0) {
    big = false;
  } else {
    return 0;
  }
  const uint32_t ifd = Read(p + 4, 4, big);
  if (ifd > n - 2) return 0;
  const uint32_t entries = Read(p + ifd, 2, big);
  if (entries > (n - ifd - 2) / 12) return 0;
  for (uint32_t i = 0; i < entries; ++i) {
    const unsigned char* e = p + ifd + 2 + 12 * i;
    if (Read(e, 2, big) != kExifOrientation) continue;
    if (Read(e + 2, 2, big) != 3 || Read(e + 4, 4, big) != 1) return 0;  // one SHORT
    return static_cast<int>(Read(e + 8, 2, big));
  }
  return 1;
}

// False when a saved marker asks for something sharp does and this path does not: a colour profile (APP2
// ICC_PROFILE) or an EXIF orientation other than 1 (or an EXIF block that cannot be read).
bool MarkersAllowFastPath(j_decompress_ptr c) {
  for (jpeg_saved_marker_ptr m = c->marker_list; m; m = m->next) {
    if (m->marker == JPEG_APP0 + 2 && m->data_length >= 12 && std::memcmp(m->data, "ICC_PROFILE\0", 12) == 0) {
      return false;
    }
    if (m->marker == JPEG_APP0 + 1 && ExifOrientation(m->data, m->data_length) != 1) return false;
  }
  return true;
}

// The decoding itself, between setjmp and the cleanup: only trivially destructible locals live in this frame (what
// must outlive a longjmp, the image and a scanline, is the caller's), so libjpeg's longjmp skips nothing. Returns false
// for a file this path leaves to sharp.
bool Decode(jpeg_decompress_struct* c, ErrorManager* err, const unsigned char* data, size_t size, int64_t channels,
            int64_t max_pixels, const JpegShrinkFor* shrink_for, JpegImage* out, std::vector<unsigned char>* line) {
  if (setjmp(err->jump)) return false;
  jpeg_mem_src(c, data, static_cast<unsigned long>(size));
  jpeg_save_markers(c, JPEG_APP0 + 1, 0xFFFF);
  jpeg_save_markers(c, JPEG_APP0 + 2, 0xFFFF);
  if (jpeg_read_header(c, TRUE) != JPEG_HEADER_OK) return false;
  const bool grey = c->jpeg_color_space == JCS_GRAYSCALE && c->num_components == 1;
  const bool ycc = c->jpeg_color_space == JCS_YCbCr && c->num_components == 3;
  if (!(grey || ycc) || (channels == 1 && !grey) || c->data_precision != 8 || c->arith_code) return false;
  const int64_t height = c->image_height, width = c->image_width;
  if (height * width > max_pixels || height * width > kMaxFastPathJpegPixels) return false;
  if (!MarkersAllowFastPath(c)) return false;
  const int shrink = (*shrink_for)(height, width);
  if (shrink != 1 && shrink != 2 && shrink != 4 && shrink != 8) return false;
  // As libvips's jpegload: the integer IDCT, fancy upsampling, block smoothing (libjpeg's defaults), RGB or grey out.
  c->scale_num = 1;
  c->scale_denom = static_cast<unsigned int>(shrink);
  c->dct_method = JDCT_ISLOW;
  c->out_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(c);
  if (err->warned) return false;
  // libjpeg rounds a scaled size up (its last column and row then come partly from outside the image); jpegload
  // keeps the size rounded down, and so does this.
  const int64_t full_w = c->output_width, from = c->output_components;
  const int64_t h = height / shrink, w = width / shrink;
  out->height = h;
  out->width = w;
  out->channels = channels;
  out->pixels.resize(static_cast<size_t>(h * w * channels));
  line->resize(static_cast<size_t>(full_w * from));
  while (c->output_scanline < c->output_height) {
    const int64_t y = c->output_scanline;
    JSAMPROW rows[1] = {line->data()};
    if (jpeg_read_scanlines(c, rows, 1) != 1) return false;
    if (y >= h) continue;
    unsigned char* row = out->pixels.data() + static_cast<size_t>(y * w * channels);
    if (from == channels) {
      std::memcpy(row, line->data(), static_cast<size_t>(w * channels));
    } else {  // a grey JPEG to sRGB: its one channel repeated
      for (int64_t x = 0; x < w; ++x) row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = (*line)[static_cast<size_t>(x)];
    }
  }
  jpeg_finish_decompress(c);
  return !err->warned;
}

}  // namespace

JpegResult DecodeJpeg(const unsigned char* data, size_t size, int64_t channels, int64_t max_pixels,
                      const JpegShrinkFor& shrink_for, JpegImage& out) {
  if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) return JpegResult::kNotHandled;
  if (channels != 1 && channels != 3) return JpegResult::kNotHandled;
  jpeg_decompress_struct c;
  ErrorManager err;
  c.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = OnError;
  err.pub.emit_message = OnMessage;
  err.warned = false;
  jpeg_progress_mgr progress;
  progress.progress_monitor = OnProgress;
  if (setjmp(err.jump)) {  // jpeg_create_decompress itself failed (out of memory)
    jpeg_destroy_decompress(&c);
    return JpegResult::kNotHandled;
  }
  jpeg_create_decompress(&c);
  c.progress = &progress;
  bool ok = false;
  std::vector<unsigned char> line;
  try {
    ok = Decode(&c, &err, data, size, channels, max_pixels, &shrink_for, &out, &line);
  } catch (...) {  // a vector that could not grow, or shrink_for's own exception: sharp decides
    ok = false;
  }
  jpeg_destroy_decompress(&c);
  return ok ? JpegResult::kDecoded : JpegResult::kNotHandled;
}

}  // namespace resnet_cifar
