// libtorch's error text without its C++ backtrace, for messages that reach users.
#pragma once

#include <c10/util/Exception.h>

#include <string>

namespace resnet_cifar {

inline std::string TorchMessage(const c10::Error& e) {
  std::string m = e.what_without_backtrace();
  // c10 appends "Exception raised from ..." context lines in some builds; keep the first paragraph.
  auto pos = m.find("\nException raised from");
  if (pos != std::string::npos) m = m.substr(0, pos);
  return m;
}

}  // namespace resnet_cifar
