// Integrity of torch.save / torch.jit.save archives (no torch).
#pragma once

#include <string>
#include <vector>

namespace resnet_cifar {

// Checks every member of a zip archive against its stored CRC-32; an error naming the file and the damaged member
// otherwise.
void VerifyZip(const std::vector<char>& bytes, const std::string& path);

}  // namespace resnet_cifar
