#!/usr/bin/env python3
"""Inference throughput of the PyTorch peer's model (the seed's ResNetCifar from ../shared/bench/pytorch_seed.py):
eval mode, no grad, batches of 500 over the 10,000 CIFAR-10 test images (normalized with torch ops inside the timed
loop, as resnet-cifar's evaluate does), optionally under bf16 autocast and channels-last. Prints one JSON line.

  python3 scripts/bench/peer_eval.py --peer ../shared/bench/pytorch_seed.py --data DIR [--n 3] [--threads 2] [--bf16]
"""
import argparse, importlib.util, json, time

import numpy as np
import torch

ap = argparse.ArgumentParser()
ap.add_argument('--peer', required=True)
ap.add_argument('--data', required=True)
ap.add_argument('--n', type=int, default=3)
ap.add_argument('--threads', type=int, default=2)
ap.add_argument('--batch', type=int, default=500)
ap.add_argument('--bf16', action='store_true')
ap.add_argument('--channels-last', action='store_true')
a = ap.parse_args()

spec = importlib.util.spec_from_file_location('pytorch_seed', a.peer)
seed = importlib.util.module_from_spec(spec)
spec.loader.exec_module(seed)
torch.set_num_threads(a.threads)
fmt = torch.channels_last if a.channels_last else torch.contiguous_format
model = seed.ResNetCifar(a.n).to(memory_format=fmt).eval()
raw = np.fromfile(f'{a.data}/test_batch.bin', dtype=np.uint8).reshape(10000, 3073)
images = torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).copy())
mean = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
std = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)


def run(n):
    correct = 0
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=a.bf16):
        for i in range(0, n, a.batch):
            x = ((images[i:i + a.batch].float() / 255 - mean) / std).contiguous(memory_format=fmt)
            correct += int(model(x).argmax(1).numel())
    return correct


run(a.batch)  # warm-up
t = time.perf_counter()
count = run(len(images))
dt = time.perf_counter() - t
print(json.dumps({'peer': 'pytorch-seed eval', 'bf16': a.bf16, 'channels_last': a.channels_last, 'images': count,
                  'seconds': dt, 'images_per_s': count / dt, 'torch': torch.__version__}))
