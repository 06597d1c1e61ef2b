"""PyTorch's own DistributedDataParallel (Gloo, 127.0.0.1) on the batches resnet-cifar's ranks trained on, from the
same weights, for test/distributed.test.ts:

  python3 ddp.py --ckpt before.pt --after ours.pt --batches R0P1,R0P2;R1P1,R1P2 --port P [--lr 0.1] [--channels-last 1]

Each rank i runs SGD (momentum 0.9, weight decay 1e-4) on its batches (PREFIX.x float32 NCHW, PREFIX.y int32), with
DDP's defaults (gradients averaged, buffers broadcast from rank 0 before each forward), one thread per rank. Prints
the relative error of rank 0's weights against the checkpoint resnet-cifar wrote after the same steps.
"""
import argparse, json, os, sys, tempfile

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from seed_parity import ResNetCifar, read_input  # noqa: E402


def worker(rank, a, batches, out):
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{a.port}', rank=rank, world_size=len(batches))
    ck = torch.load(a.ckpt, weights_only=True)
    meta = ck['meta']
    m = ResNetCifar((meta['depth'] - 2) // 6, False, meta['shortcut'], meta['num_classes'])
    m.load_state_dict(ck['state_dict'], strict=True)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    m = m.to(memory_format=fmt).train()
    ddp = torch.nn.parallel.DistributedDataParallel(m)
    opt = torch.optim.SGD(ddp.parameters(), lr=a.lr, momentum=0.9, weight_decay=1e-4)
    for prefix in batches[rank]:
        y = torch.from_numpy(np.fromfile(prefix + '.y', dtype='<i4').astype(np.int64))
        x = read_input(prefix + '.x', len(y)).contiguous(memory_format=fmt)
        opt.zero_grad()
        F.cross_entropy(ddp(x), y).backward()
        opt.step()
    if rank == 0:
        torch.save(m.state_dict(), out)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--after', required=True)
    ap.add_argument('--batches', required=True)
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--lr', type=float, default=0.1)
    ap.add_argument('--channels-last', type=int, default=1)
    a = ap.parse_args()
    batches = [r.split(',') for r in a.batches.split(';')]
    out = os.path.join(tempfile.mkdtemp(), 'ddp.pt')
    mp.spawn(worker, args=(a, batches, out), nprocs=len(batches), join=True)
    theirs = torch.load(out, weights_only=True)
    ours = torch.load(a.after, weights_only=True)['state_dict']
    start = torch.load(a.ckpt, weights_only=True)['state_dict']
    num = den = moved = 0.0
    for k, t in theirs.items():
        if not t.is_floating_point():
            continue
        num += (ours[k].double() - t.double()).norm().item() ** 2
        den += t.double().norm().item() ** 2
        moved += (t.double() - start[k].double()).norm().item() ** 2
    print(json.dumps({'rel': (num / den) ** 0.5, 'moved': moved ** 0.5}))


if __name__ == '__main__':
    main()
