// Integrity of torch.save / torch.jit.save archives: libtorch (like PyTorch) never checks the CRC-32 that the zip
// stores for each member, so a flipped bit in tensor data would load as silently wrong weights. We check them.
// (Compressed members go unchecked, as in libtorch itself, where libtorch lacks miniz's decoder: inflate.h.)
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "../base/limits.h"
#include "crc32.h"
#include "inflate.h"
#include "zip_check.h"

// Every offset and length from the file is checked against the file without integer overflow before it is used,
// and a deflated member is inflated in 32 KB pieces into its checksum only: nothing is allocated by a declaration.

namespace resnet_cifar {

// A deflated member inflated piece by piece: its CRC-32 and length, stopping once it passes what it declares.
struct ZipInflated {
  uint64_t limit, size = 0;
  uint32_t crc = 0;
  static int Put(const void* p, int len, void* user) {
    auto* s = static_cast<ZipInflated*>(user);
    s->size += static_cast<uint64_t>(len);
    if (s->size > s->limit) return 0;
    s->crc = Crc32Update(s->crc, static_cast<const unsigned char*>(p), static_cast<size_t>(len));
    return 1;
  }
};

static uint32_t ZipU32(const unsigned char* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
static uint16_t ZipU16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

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
    if (ZipU32(b + i) == 0x06054b50u) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string::npos) throw bad("no zip directory at the end");
  const uint64_t entries = ZipU16(b + eocd + 10);
  uint64_t cd_size = ZipU32(b + eocd + 12), cd_off = ZipU32(b + eocd + 16);
  if (cd_off == 0xFFFFFFFFu || entries == 0xFFFF) {
    // ZIP64: the locator sits right before the EOCD and points at the zip64 EOCD record.
    if (eocd < 20 || ZipU32(b + eocd - 20) != 0x07064b50u) throw bad("zip64 locator missing");
    uint64_t z = 0;
    std::memcpy(&z, b + eocd - 20 + 8, 8);
    if (z > n || n - z < 56 || ZipU32(b + z) != 0x06064b50u) throw bad("zip64 directory record missing");
    std::memcpy(&cd_size, b + z + 40, 8);
    std::memcpy(&cd_off, b + z + 48, 8);
  }
  if (cd_off > n || cd_size > n - cd_off) throw bad("zip directory outside the file");
  size_t p = cd_off;
  const size_t end = cd_off + cd_size;
  // Members' bytes (local header to end of data) may not overlap: else a few compressed bytes, listed many times,
  // would be checked (and inflated) again for each listing.
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  struct Member {
    std::string name;
    uint16_t method;
    uint32_t crc;
    uint64_t csize, usize, data;
  };
  std::vector<Member> members;
  while (p < end) {
    if (p + 46 > end || ZipU32(b + p) != 0x02014b50u) throw bad("damaged zip directory entry");
    const uint16_t method = ZipU16(b + p + 10);
    const uint32_t crc = ZipU32(b + p + 16);
    uint64_t csize = ZipU32(b + p + 20), usize = ZipU32(b + p + 24);
    const uint16_t name_len = ZipU16(b + p + 28), extra_len = ZipU16(b + p + 30), comment_len = ZipU16(b + p + 32);
    uint64_t local = ZipU32(b + p + 42);
    if (46 + uint64_t{name_len} + extra_len + comment_len > end - p) throw bad("damaged zip directory entry");
    const std::string name(reinterpret_cast<const char*>(b + p + 46), name_len);
    // ZIP64 extra field (id 1) carries the 64-bit values that are 0xFFFFFFFF above, in this order.
    const size_t extra_end = p + 46 + name_len + extra_len;
    for (size_t e = p + 46 + name_len; e + 4 <= extra_end;) {
      const uint16_t id = ZipU16(b + e), len = ZipU16(b + e + 2);
      if (len > extra_end - e - 4) throw bad("member '" + name + "' has a damaged extra field");
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
    if (local > n || n - local < 30 || ZipU32(b + local) != 0x04034b50u) {
      throw bad("member '" + name + "' has no local header");
    }
    const uint64_t data = local + 30 + ZipU16(b + local + 26) + ZipU16(b + local + 28);
    if (data > n || csize > n - data || (method == 0 && csize != usize))
      throw bad("member '" + name + "' is cut short");
    spans.emplace_back(local, data + csize);
    members.push_back({name, method, crc, csize, usize, data});
    p += 46 + name_len + extra_len + comment_len;
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].first < spans[i - 1].second) throw bad("two zip members share bytes");
  }
  for (const Member& m : members) {
    const std::string& name = m.name;
    const uint64_t csize = m.csize, usize = m.usize, data = m.data;
    const uint32_t crc = m.crc;
    const uint16_t method = m.method;
    if (method == 0) {
      if (Crc32Update(0, b + data, csize) != crc) throw bad("checksum mismatch in member '" + name + "'");
    } else if (HaveInflate()) {
      // Deflated members (torch.jit.save compresses code and constants): inflated into the checksum only.
      if (usize > csize * kMaxDeflateRatio + 64) {
        throw bad("member '" + name + "' declares " + std::to_string(usize) + " bytes from " + std::to_string(csize) +
                  " compressed, more than deflate can produce");
      }
      ZipInflated out{usize};
      size_t in_size = csize;
      const bool ok = InflateRaw(b + data, &in_size, &ZipInflated::Put, &out);
      if (!ok || out.size != usize) throw bad("member '" + name + "' does not inflate to its declared size");
      if (out.crc != crc) throw bad("checksum mismatch in member '" + name + "'");
    }
  }
}

}  // namespace resnet_cifar
