"""The CIFAR ResNet of akamaster/pytorch_resnet_cifar10, written here from its description (conv1, bn1,
layer1..3 of BasicBlocks, linear; option A pads the subsampled shortcut with planes // 4 zero channels on each
side), for the import tests. One command:

  python3 akamaster.py make --depth 20 --option A --classes 10 --input in.f32 --n 8 --logits out.f32
      --zip ck.th --legacy ck-legacy.th [--dataparallel 1] [--safetensors sd.safetensors] [--seed 0]

builds the model, gives its BatchNorms non-trivial statistics, writes its logits for the input (NCHW float32) and
its training checkpoint {'state_dict': ..., 'best_prec1': ...} in torch.save's zip and legacy formats.
"""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class LambdaLayer(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1, option='A'):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            if option == 'A':
                self.shortcut = LambdaLayer(
                    lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4), 'constant', 0))
            else:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(self.expansion * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self, num_blocks, num_classes=10, option='A'):
        super().__init__()
        self.in_planes = 16
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(16, num_blocks, 1, option)
        self.layer2 = self._make_layer(32, num_blocks, 2, option)
        self.layer3 = self._make_layer(64, num_blocks, 2, option)
        self.linear = nn.Linear(64, num_classes)

    def _make_layer(self, planes, num_blocks, stride, option):
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(BasicBlock(self.in_planes, planes, s, option))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3])
        return self.linear(out.view(out.size(0), -1))


def randomize_bn(model):
    """Non-trivial BatchNorm statistics and affine parameters (a few train-mode batches), then eval mode."""
    model.train()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        for _ in range(3):
            model(torch.randn(32, 3, 32, 32))
    return model.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('cmd', choices=['make'])
    ap.add_argument('--depth', type=int, default=20)
    ap.add_argument('--option', default='A')
    ap.add_argument('--classes', type=int, default=10)
    ap.add_argument('--input', required=True)
    ap.add_argument('--n', type=int, required=True)
    ap.add_argument('--logits', required=True)
    ap.add_argument('--zip')
    ap.add_argument('--legacy')
    ap.add_argument('--safetensors')
    ap.add_argument('--dataparallel', type=int, default=1)
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    model = randomize_bn(ResNet((a.depth - 2) // 6, a.classes, a.option))
    x = torch.from_numpy(np.fromfile(a.input, dtype=np.float32).reshape(a.n, 3, 32, 32))
    with torch.no_grad():
        model(x).numpy().astype(np.float32).tofile(a.logits)
    sd = model.state_dict()
    if a.dataparallel:
        sd = {'module.' + k: v for k, v in sd.items()}
    ck = {'state_dict': sd, 'best_prec1': 91.25, 'epoch': 200}
    if a.zip:
        torch.save(ck, a.zip)
    if a.legacy:
        torch.save(ck, a.legacy, _use_new_zipfile_serialization=False)
    if a.safetensors:
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, a.safetensors, metadata={'source': 'akamaster'})


if __name__ == '__main__':
    main()
