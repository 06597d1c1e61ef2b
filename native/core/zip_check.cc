// Integrity of torch.save / torch.jit.save archives: libtorch (like PyTorch) never checks the CRC-32 that the zip
// stores for each member, so a flipped bit in tensor data would load as silently wrong weights. We check them.
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "zip_check.h"

// miniz's raw-deflate decoder, which libtorch carries and exports; weak, so a libtorch without it still links
// (compressed members then go unchecked, as they do in libtorch itself).
extern "C" size_t tinfl_decompress_mem_to_mem(void* out, size_t out_len, const void* src, size_t src_len, int flags)
    __attribute__((weak));

namespace resnet_cifar {

static uint32_t Crc32(const unsigned char* p, size_t n) {
  static uint32_t table[256];
  static bool ready = [] {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    return true;
  }();
  (void)ready;
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

static uint32_t U32(const unsigned char* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }
static uint16_t U16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

void VerifyZip(const std::vector<char>& bytes, const std::string& path) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  auto bad = [&](const std::string& what) {
    return std::runtime_error(path + " is corrupted: " + what + " (the file was damaged or cut short)");
  };
  // End of central directory: the last 22 + comment bytes.
  if (n < 22) throw bad("too short for a zip archive");
  size_t eocd = std::string::npos;
  for (size_t i = n - 22 + 1; i-- > 0 && n - i <= 22 + 65535;) {
    if (U32(b + i) == 0x06054b50u) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string::npos) throw bad("no zip directory at the end");
  const uint64_t entries = U16(b + eocd + 10);
  uint64_t cd_size = U32(b + eocd + 12), cd_off = U32(b + eocd + 16);
  if (cd_off == 0xFFFFFFFFu || entries == 0xFFFF) {
    // ZIP64: the locator sits right before the EOCD and points at the zip64 EOCD record.
    if (eocd < 20 || U32(b + eocd - 20) != 0x07064b50u) throw bad("zip64 locator missing");
    uint64_t z = 0;
    std::memcpy(&z, b + eocd - 20 + 8, 8);
    if (z + 56 > n || U32(b + z) != 0x06064b50u) throw bad("zip64 directory record missing");
    std::memcpy(&cd_size, b + z + 40, 8);
    std::memcpy(&cd_off, b + z + 48, 8);
  }
  if (cd_off > n || cd_size > n - cd_off) throw bad("zip directory outside the file");
  size_t p = cd_off;
  const size_t end = cd_off + cd_size;
  while (p < end) {
    if (p + 46 > end || U32(b + p) != 0x02014b50u) throw bad("damaged zip directory entry");
    const uint16_t method = U16(b + p + 10);
    const uint32_t crc = U32(b + p + 16);
    uint64_t csize = U32(b + p + 20), usize = U32(b + p + 24);
    const uint16_t name_len = U16(b + p + 28), extra_len = U16(b + p + 30), comment_len = U16(b + p + 32);
    uint64_t local = U32(b + p + 42);
    if (p + 46 + name_len + extra_len + comment_len > end) throw bad("damaged zip directory entry");
    const std::string name(reinterpret_cast<const char*>(b + p + 46), name_len);
    // ZIP64 extra field (id 1) carries the 64-bit values that are 0xFFFFFFFF above, in this order.
    for (size_t e = p + 46 + name_len; e + 4 <= p + 46 + name_len + extra_len;) {
      const uint16_t id = U16(b + e), len = U16(b + e + 2);
      if (id == 1) {
        size_t q = e + 4;
        auto take = [&](uint64_t& v) {
          if (v == 0xFFFFFFFFu && q + 8 <= e + 4 + len) {
            std::memcpy(&v, b + q, 8);
            q += 8;
          }
        };
        take(usize);
        take(csize);
        take(local);
      }
      e += 4 + len;
    }
    if (method != 0 && method != 8) throw bad("member '" + name + "' uses an unknown compression method");
    if (local + 30 > n || U32(b + local) != 0x04034b50u) throw bad("member '" + name + "' has no local header");
    const size_t data = local + 30 + U16(b + local + 26) + U16(b + local + 28);
    if (data > n || csize > n - data || (method == 0 && csize != usize)) throw bad("member '" + name + "' is cut short");
    if (method == 0) {
      if (Crc32(b + data, csize) != crc) throw bad("checksum mismatch in member '" + name + "'");
    } else if (tinfl_decompress_mem_to_mem != nullptr) {
      // Deflated members (torch.jit.save compresses code and constants): inflate, then check.
      if (usize > (uint64_t{1} << 32)) throw bad("member '" + name + "' claims an implausible size");
      std::vector<unsigned char> plain(static_cast<size_t>(usize) + 1);
      const size_t got = tinfl_decompress_mem_to_mem(plain.data(), plain.size(), b + data, csize, 0);
      if (got == static_cast<size_t>(-1) || got != usize) throw bad("member '" + name + "' does not inflate");
      if (Crc32(plain.data(), got) != crc) throw bad("checksum mismatch in member '" + name + "'");
    }
    p += 46 + name_len + extra_len + comment_len;
  }
}

}  // namespace resnet_cifar
