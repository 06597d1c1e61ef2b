// State-dict layouts of the PyTorch CIFAR ResNet code people hold weights of, mapped onto ours (the seed's names):
//   resnet-cifar  ours and the seed's nets.py: conv, bn, block1.0.conv1, ..., block3.N.bn2, fc (conv biases of the
//                 seed's default bias=True convs are folded later, by ApplyStateDict)
//   akamaster     akamaster/pytorch_resnet_cifar10: conv1, bn1, layer1.0.conv1, ..., layer3.N.bn2, linear. Its option A
//                 pads the subsampled shortcut with zeros on both sides of the channels where ours appends them, so
//                 the channels of stages 2 and 3 are permuted on import (a permutation is exact: same outputs).
// Depth, shortcut and number of classes are read off the keys and shapes.
#pragma once

#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

#include "../nn/resnet.h"

namespace resnet_cifar {

struct ImportedWeights {
  ResNetOptions options{20};
  c10::IValue state_dict;                                   // a dict of our names -> tensors, for ApplyStateDict
  std::string layout;                                       // "resnet-cifar" | "akamaster"
  std::vector<std::pair<std::string, c10::IValue>> extras;  // numbers beside the weights (e.g. best_prec1, epoch)
};

// `root`: a state dict, or a training checkpoint holding one under 'state_dict' (or 'model', 'net'); DataParallel
// "module." prefixes are stripped. `shortcut_hint` settles what the weights cannot tell (option A and plain nets have
// the same parameters; empty: A). An unknown layout is a std::runtime_error naming the keys seen and the layouts known.
ImportedWeights ImportWeights(const c10::IValue& root, const std::string& source,
                              const std::string& shortcut_hint = "");

// The inverse for the layouts we can write: our network's state dict in `layout`'s names and channel order.
c10::impl::GenericDict ExportWeights(const ResNet& net, const std::string& layout);

}  // namespace resnet_cifar
