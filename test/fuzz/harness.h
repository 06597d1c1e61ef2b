// What every libFuzzer harness here shares: a reader may refuse an input with an exception (std::exception,
// c10::Error), which is the expected outcome for bad bytes; anything else (a crash, a sanitizer report, a hang,
// an allocation over the fuzzer's limit) is a finding. Built and run by scripts/reliability/fuzz.ts (npm run fuzz).
#pragma once

#include <c10/util/Exception.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

namespace resnet_cifar::fuzz {

inline std::vector<char> Bytes(const uint8_t* data, size_t size) {
  return std::vector<char>(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + size);
}

// Runs `read`; a refusal by exception is fine.
template <class Fn>
void Refusable(Fn&& read) {
  try {
    read();
  } catch (const c10::Error&) {
  } catch (const std::exception&) {
  }
}

}  // namespace resnet_cifar::fuzz
