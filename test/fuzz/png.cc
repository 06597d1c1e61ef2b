// Fuzz target png: the PNG fast path fromFolder decodes common PNGs with (native/core/codecs/png.h), asked for the
// size its IHDR declares when that is a size a dataset can have (else 32×32), as colour and as grey; the input as it
// is, and with every chunk's CRC made right (so that mutations get past the CRC check into the chunks' rules, the
// inflate and the row filters).
#include <vector>

#include "../../native/core/base/image_shape.h"
#include "../../native/core/codecs/crc32.h"
#include "../../native/core/codecs/inflate.h"
#include "../../native/core/codecs/png.h"
#include "harness.h"

using namespace resnet_cifar;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!HaveInflateZlib()) __builtin_trap();  // else only the signature check would be fuzzed
  auto be32 = [&](size_t at) {
    return (int64_t{data[at]} << 24) | (int64_t{data[at + 1]} << 16) | (int64_t{data[at + 2]} << 8) | data[at + 3];
  };
  int64_t w = 32, h = 32;
  if (size >= 24) {
    const int64_t dw = be32(16), dh = be32(20);
    if (dw >= kMinImageSide && dw <= kMaxImageSide && dh >= kMinImageSide && dh <= kMaxImageSide) w = dw, h = dh;
  }
  std::vector<unsigned char> fixed(data, data + size);
  for (size_t at = 8; at + 12 <= size;) {
    const size_t length = static_cast<size_t>(be32(at));
    if (length > size - at - 12) break;
    const uint32_t crc = Crc32Update(0, fixed.data() + at + 4, length + 4);
    for (int k = 0; k < 4; ++k) fixed[at + 8 + length + k] = static_cast<unsigned char>(crc >> (24 - 8 * k));
    at += length + 12;
  }
  for (const unsigned char* input : {data, static_cast<const uint8_t*>(fixed.data())}) {
    for (int64_t channels : {3, 1}) {
      std::vector<unsigned char> out(static_cast<size_t>(w * h * channels));
      (void)DecodePng(input, size, h, w, channels, w * h, out.data());
    }
  }
  return 0;
}
