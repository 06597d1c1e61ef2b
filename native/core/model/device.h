// Devices by name: "auto" | "cpu" | "cuda" | "cuda:N" (lib/base/validate.ts checks the spelling and that the device
// exists and says so to the user; here a bad name is only an error, never a crash).
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace resnet_cifar {

c10::Device ResolveDevice(const std::string& spec);
std::string DeviceName(const c10::Device& d);

}  // namespace resnet_cifar
