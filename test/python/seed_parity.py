"""PyTorch side of the parity tests: the seed's ResNetCifar (nets.py) with convs that may be bias-free,
plus an option-B variant, run on the same inputs as resnet-cifar.

  export: build a seed model with perturbed BN statistics, save its state_dict, write its eval-mode logits
  sgd:    from a resnet-cifar checkpoint, run PyTorch SGD (momentum 0.9, weight decay 1e-4, train-mode BN) on the
          given batches, then compare with the checkpoint resnet-cifar wrote after the same steps
  torchscript: train the seed's model (convs with bias) for --steps SGD steps on test_batch.bin of --eval-dir,
          save it with torch.jit.script and torch.jit.trace into --out, print its test error
  check:  read a resnet-cifar checkpoint with torch.load(weights_only=True), load it into a bias-free seed
          model (strict), write its eval-mode logits
Inputs and logits are raw little-endian float32 files.
"""
import argparse, json, sys
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F


class Block(nn.Module):  # the seed's ResNetCifarBlock, with bias and shortcut as parameters
    def __init__(self, input_nc, output_nc, bias, shortcut):
        super().__init__()
        stride = 1
        self.expand = False
        self.kind = shortcut
        if input_nc != output_nc:
            stride = 2
            self.expand = True
        self.conv1 = nn.Conv2d(input_nc, output_nc, kernel_size=3, stride=stride, padding=1, bias=bias)
        self.bn1 = nn.BatchNorm2d(output_nc)
        self.conv2 = nn.Conv2d(output_nc, output_nc, kernel_size=3, stride=1, padding=1, bias=bias)
        self.bn2 = nn.BatchNorm2d(output_nc)
        self.shortcut = nn.Identity()  # (no state; lets torch.jit.script compile the 'B' branch)
        if shortcut == 'B' and self.expand:
            self.shortcut = nn.Sequential(nn.Conv2d(input_nc, output_nc, 1, stride=2, bias=bias), nn.BatchNorm2d(output_nc))

    def forward(self, x):
        xx = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = self.bn2(self.conv2(xx))
        if self.kind == 'plain':
            return F.relu(y)
        if self.expand:
            if self.kind == 'B':
                x = self.shortcut(x)
            else:
                x = F.interpolate(x, scale_factor=0.5, mode='nearest')
                x = torch.cat([x, torch.zeros_like(x)], dim=1)
        return F.relu(y + x, inplace=True)


class ResNetCifar(nn.Module):
    def __init__(self, n, bias=False, shortcut='A', num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=bias)
        self.bn = nn.BatchNorm2d(16)
        group = lambda i, o: nn.Sequential(Block(i, o, bias, shortcut), *[Block(o, o, bias, shortcut) for _ in range(1, n)])
        self.block1 = group(16, 16)
        self.block2 = group(16, 32)
        self.block3 = group(32, 64)
        self.pool = nn.AdaptiveAvgPool2d(output_size=(1, 1))
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)), inplace=True)
        x = self.block3(self.block2(self.block1(x)))
        return self.fc(self.pool(x).flatten(1))


MEAN = torch.tensor((0.4914, 0.4822, 0.4465)).view(1, 3, 1, 1)
STD = torch.tensor((0.2470, 0.2435, 0.2616)).view(1, 3, 1, 1)


def read_input(path, n):
    return torch.from_numpy(np.fromfile(path, dtype='<f4').reshape(n, 3, 32, 32).copy())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('cmd', choices=['export', 'check', 'names', 'sgd', 'torchscript'])
    ap.add_argument('--depth', type=int, default=20)
    ap.add_argument('--shortcut', default='A')
    ap.add_argument('--bias', type=int, default=0)
    ap.add_argument('--ckpt')
    ap.add_argument('--input')
    ap.add_argument('--n', type=int)
    ap.add_argument('--logits')
    ap.add_argument('--eval-dir')
    ap.add_argument('--after')
    ap.add_argument('--out')
    ap.add_argument('--steps', type=int, default=30)
    ap.add_argument('--batches')  # comma-separated prefixes: PREFIX.x (float32 NCHW) and PREFIX.y (int32)
    ap.add_argument('--lr', type=float, default=0.1)
    ap.add_argument('--channels-last', type=int, default=0)
    a = ap.parse_args()
    if a.cmd != 'sgd':  # sgd keeps torch's default thread count, the one resnet-cifar trains with
        torch.set_num_threads(1)
    if a.cmd == 'names':
        m = ResNetCifar((a.depth - 2) // 6, bool(a.bias), a.shortcut)
        print(json.dumps({'keys': list(m.state_dict().keys()),
                          'params': sum(p.numel() for p in m.parameters())}))
        return
    if a.cmd == 'sgd':
        ck = torch.load(a.ckpt, weights_only=True)
        meta = ck['meta']
        m = ResNetCifar((meta['depth'] - 2) // 6, False, meta['shortcut'], meta['num_classes'])
        m.load_state_dict(ck['state_dict'], strict=True)
        fmt = torch.channels_last if a.channels_last else torch.contiguous_format
        start = {k: v.clone() for k, v in m.state_dict().items()}

        def train(dtype):  # the same SGD steps from the same weights, computed in dtype
            m.load_state_dict(start)
            net = m.to(dtype=dtype, memory_format=fmt)
            net.train()
            opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=0.9, weight_decay=1e-4)
            for prefix in a.batches.split(','):
                y = torch.from_numpy(np.fromfile(prefix + '.y', dtype='<i4').astype(np.int64))
                x = read_input(prefix + '.x', len(y)).to(dtype).contiguous(memory_format=fmt)
                opt.zero_grad()
                F.cross_entropy(net(x), y).backward()
                opt.step()
            return {k: v.clone() for k, v in net.state_dict().items()}

        def compare(ours, theirs):  # overall relative error and the worst tensor
            assert set(ours) == set(theirs), (sorted(set(ours) ^ set(theirs)))
            num = den = 0.0
            worst = ('', 0.0)
            for k, t in theirs.items():
                if not t.is_floating_point():
                    assert torch.equal(ours[k], t), k
                    continue
                d = (ours[k].double() - t.double()).norm().item()
                num += d * d
                den += t.double().norm().item() ** 2
                r = d / max(t.double().norm().item(), 1e-12)
                if r > worst[1]:
                    worst = (k, r)
            return (num / den) ** 0.5, worst

        theirs = train(torch.float32)
        exact = train(torch.float64)  # float64: the reference both float32 results are measured against
        ours = torch.load(a.after, weights_only=True)['state_dict']
        rel, worst = compare(ours, theirs)
        rel64, worst64 = compare(ours, exact)
        torch_rel64, _ = compare(theirs, exact)
        moved = sum((t.double() - ck['state_dict'][k].double()).norm().item() ** 2
                    for k, t in theirs.items() if t.is_floating_point()) ** 0.5
        print(json.dumps({'rel': rel, 'worst': worst[0], 'worst_rel': worst[1], 'moved': moved,
                          'rel64': rel64, 'worst64': worst64[0], 'worst64_rel': worst64[1], 'torch_rel64': torch_rel64}))
        return
    if a.cmd == 'torchscript':
        torch.manual_seed(2)
        d = np.fromfile(f'{a.eval_dir}/test_batch.bin', np.uint8).reshape(-1, 3073)
        x = (torch.from_numpy(d[:, 1:].reshape(-1, 3, 32, 32).copy()).float().div_(255) - MEAN) / STD
        y = torch.from_numpy(d[:, 0].astype(np.int64))
        m = ResNetCifar((a.depth - 2) // 6, True, a.shortcut)
        opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        m.train()
        for i in range(a.steps):
            idx = torch.randint(0, len(y), (64,))
            opt.zero_grad()
            F.cross_entropy(m(x[idx]), y[idx]).backward()
            opt.step()
        m.eval()
        torch.jit.script(m).save(f'{a.out}/scripted.pt')
        torch.jit.trace(m, torch.randn(2, 3, 32, 32)).save(f'{a.out}/traced.pt')
        with torch.no_grad():
            wrong = sum((m(x[i:i + 1000]).argmax(1) != y[i:i + 1000]).sum().item() for i in range(0, len(y), 1000))
            m(x[:4]).numpy().astype('<f4').tofile(f'{a.out}/logits4.f32')
        x[:4].numpy().astype('<f4').tofile(f'{a.out}/input4.f32')
        print(json.dumps({'error': 100.0 * wrong / len(y)}))
        return
    if a.cmd == 'export':
        torch.manual_seed(1)
        m = ResNetCifar((a.depth - 2) // 6, bool(a.bias), a.shortcut)
        with torch.no_grad():  # non-trivial BN statistics and affine parameters, so eval mode means something
            for mod in m.modules():
                if isinstance(mod, nn.BatchNorm2d):
                    mod.running_mean.uniform_(-0.5, 0.5)
                    mod.running_var.uniform_(0.5, 2.0)
                    mod.weight.uniform_(0.5, 1.5)
                    mod.bias.uniform_(-0.2, 0.2)
                    mod.num_batches_tracked.fill_(123)
                if isinstance(mod, nn.Conv2d) and mod.bias is not None:
                    mod.bias.uniform_(-0.3, 0.3)
        torch.save(m.state_dict(), a.ckpt)
    else:
        ck = torch.load(a.ckpt, weights_only=True)
        meta = ck['meta']
        assert meta['format'] == 'resnet-cifar', meta
        m = ResNetCifar((meta['depth'] - 2) // 6, False, meta['shortcut'], meta['num_classes'])
        m.load_state_dict(ck['state_dict'], strict=True)
    m.eval()
    with torch.no_grad():
        out = m(read_input(a.input, a.n))
    out.numpy().astype('<f4').tofile(a.logits)
    if a.eval_dir:  # top-1 error (%) on the 10k test set, per-channel normalization as the seed does
        d = np.fromfile(f'{a.eval_dir}/test_batch.bin', np.uint8).reshape(-1, 3073)
        x = torch.from_numpy(d[:, 1:].reshape(-1, 3, 32, 32).copy()).float().div_(255)
        y = torch.from_numpy(d[:, 0].astype(np.int64))
        mean = torch.tensor((0.4914, 0.4822, 0.4465)).view(1, 3, 1, 1)
        std = torch.tensor((0.2470, 0.2435, 0.2616)).view(1, 3, 1, 1)
        with torch.no_grad():
            wrong = sum((m((x[i:i + 1000] - mean) / std).argmax(1) != y[i:i + 1000]).sum().item() for i in range(0, len(y), 1000))
        print(json.dumps({'error': 100.0 * wrong / len(y)}))


if __name__ == '__main__':
    main()
