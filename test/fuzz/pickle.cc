// Fuzz target pickle: the input is the pickle (and what follows it) of a legacy torch.save file, after a fixed
// header; no CRC or zip stands between the mutations and the pickle reader. The value read is converted to JSON.
#include <cstring>

#include "../../native/core/checkpoint/checkpoint.h"
#include "../../native/core/formats/pickle.h"
#include "harness.h"

using namespace resnet_cifar;

// torch.save's legacy header: the magic number, protocol version 1001 and a little-endian sys_info dict.
static const unsigned char kHeader[] = {
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,  // magic
    0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e,                                                        // 1001
    0x80, 0x02, 0x7d, 0x71, 0x00, 0x58, 0x0d, 0x00, 0x00, 0x00, 'l',  'i',  't',  't',  'l',
    'e',  '_',  'e',  'n',  'd',  'i',  'a',  'n',  0x71, 0x01, 0x88, 0x73, 0x2e};  // {'little_endian': True}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<char> bytes(sizeof kHeader + size);
  std::memcpy(bytes.data(), kHeader, sizeof kHeader);
  if (size) std::memcpy(bytes.data() + sizeof kHeader, data, size);
  fuzz::Refusable([&] { (void)PlainDataToJson(LoadPickleBytes(bytes, "input")); });
  return 0;
}
