#include "gzip.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>

#include "../base/limits.h"
#include "crc32.h"
#include "inflate.h"

namespace resnet_cifar {
namespace {

// One gzip member's inflated bytes: to the sink, into the CRC-32 and the length its trailer checks. Stops past what
// deflate can produce from the compressed bytes there are: miniz's decoder, given some invalid streams, goes on
// producing output forever (a 265-byte file found by npm run fuzz). No exception crosses miniz's C code: the sink's
// is kept and rethrown.
struct Member {
  const std::function<void(const char*, size_t)>* sink = nullptr;
  uint64_t limit = 0;
  uint32_t crc = 0;
  uint64_t size = 0;
  std::string error;
  std::exception_ptr thrown;
  static int Put(const void* p, int len, void* user) {
    auto* s = static_cast<Member*>(user);
    s->size += static_cast<uint64_t>(len);
    if (s->size > s->limit) {
      s->error = "the compressed data is damaged (it inflates to more than deflate can produce from it)";
      return 0;
    }
    s->crc = Crc32Update(s->crc, static_cast<const unsigned char*>(p), static_cast<size_t>(len));
    try {
      (*s->sink)(static_cast<const char*>(p), static_cast<size_t>(len));
    } catch (...) {
      s->thrown = std::current_exception();
      return 0;
    }
    return 1;
  }
};

// The offset of a gzip member's deflate data after its header at b[0, n).
size_t Header(const unsigned char* b, size_t n) {
  if (n < 10 || b[0] != 0x1f || b[1] != 0x8b) throw GzipError("not gzip data (incorrect header check)");
  if (b[2] != 8) throw GzipError("unknown gzip compression method");
  const unsigned flags = b[3];
  size_t p = 10;
  if (flags & 4) {  // FEXTRA
    if (n - p < 2) throw GzipError("gzip header cut short");
    const size_t len = b[p] | (b[p + 1] << 8);
    if (n - p - 2 < len) throw GzipError("gzip header cut short");
    p += 2 + len;
  }
  for (unsigned f : {8u, 16u}) {  // FNAME, FCOMMENT: zero-terminated
    if (!(flags & f)) continue;
    const void* z = std::memchr(b + p, 0, n - p);
    if (!z) throw GzipError("gzip header cut short");
    p = static_cast<size_t>(static_cast<const unsigned char*>(z) - b) + 1;
  }
  if (flags & 2) {  // FHCRC
    if (n - p < 2) throw GzipError("gzip header cut short");
    p += 2;
  }
  return p;
}

uint32_t Le32(const unsigned char* b) {
  return b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
}

}  // namespace

void Gunzip(const char* data, size_t size, const std::function<void(const char*, size_t)>& sink) {
  if (!HaveInflate()) throw GzipError("this libtorch lacks miniz's inflate (tinfl), which gzip reading uses");
  const auto* b = reinterpret_cast<const unsigned char*>(data ? data : "");
  size_t at = 0;
  do {  // gzip members, one after another
    at += Header(b + at, size - at);
    Member m;
    m.sink = &sink;
    m.limit = (size - at) * kMaxDeflateRatio + 65536;
    size_t in = size - at;
    if (!InflateRaw(b + at, &in, &Member::Put, &m)) {
      if (m.thrown) std::rethrow_exception(m.thrown);
      throw GzipError(!m.error.empty() ? m.error
                                       : "the compressed data is damaged or cut short (invalid deflate stream)");
    }
    at += in;
    if (size - at < 8) throw GzipError("the gzip trailer is cut short (truncated?)");
    if (Le32(b + at) != m.crc) throw GzipError("gzip checksum mismatch (the file is damaged)");
    if (Le32(b + at + 4) != static_cast<uint32_t>(m.size))
      throw GzipError("gzip length mismatch (the file is damaged)");
    at += 8;
  } while (size - at >= 2 && b[at] == 0x1f && b[at + 1] == 0x8b);
  if (std::any_of(b + at, b + size, [](unsigned char c) { return c != 0; })) {
    throw GzipError("unexpected bytes after the gzip data");
  }
}

}  // namespace resnet_cifar
