// A network's parameters and buffers by name, both ways.
#pragma once

#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>

#include <string>

#include "resnet.h"

namespace resnet_cifar {

// name -> CPU tensor (contiguous copies), parameters then buffers, with the seed's names.
c10::Dict<std::string, at::Tensor> StateDict(const ResNet& net);

// Copies a state dict (a dict str -> tensor, e.g. torch.save(model.state_dict())) into `net`.
// Strict: the first missing, unexpected or wrongly shaped key is an error naming it and both shapes.
// A leading "module." (DataParallel) is stripped; conv biases (the seed's default bias=True convs) are folded
// into the running mean of the BN that follows, which gives identical eval-mode outputs.
void ApplyStateDict(ResNet& net, const c10::IValue& dict, const std::string& source);

}  // namespace resnet_cifar
