// CRC-32 (IEEE 802.3, as zip and gzip store it), computed piece by piece: crc = Crc32Update(crc, p, n), from 0.
#pragma once

#include <cstddef>
#include <cstdint>

namespace resnet_cifar {

inline uint32_t Crc32Update(uint32_t crc, const unsigned char* p, size_t n) {
  static const auto table = [] {
    struct Table {
      uint32_t v[256];
    } t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t.v[i] = c;
    }
    return t;
  }();
  uint32_t c = crc ^ 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table.v[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

}  // namespace resnet_cifar
