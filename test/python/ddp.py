"""PyTorch's own DistributedDataParallel (Gloo, 127.0.0.1) on the batches resnet-cifar's ranks trained on, from the
same weights, for test/distributed.test.ts:

  python3 ddp.py --ckpt before.pt --after ours.pt --batches R0P1,R0P2;R1P1,R1P2 --port P [--lr 0.1] [--channels-last 1]
                [--global-batch]

Each rank i runs SGD (momentum 0.9, weight decay 1e-4) on its batches (PREFIX.x float32 NCHW, PREFIX.y int32), with
DDP's defaults (gradients averaged, buffers broadcast from rank 0 before each forward), one thread per rank. Prints
the relative error of rank 0's weights against the checkpoint resnet-cifar wrote after the same steps.

--global-batch: instead, one process trains on each step's batches of all ranks concatenated: what synchronized
BatchNorm across the ranks is defined to equal (PyTorch's SyncBatchNorm runs only on GPUs, so this is the reference
on the CPU).
"""
import argparse, json, os, sys, tempfile

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from seed_parity import ResNetCifar, read_input  # noqa: E402


def start_model(a, dtype=torch.float32):
    """The model of --ckpt in training mode, in `dtype` and the layout asked for; and that layout."""
    ck = torch.load(a.ckpt, weights_only=True)
    meta = ck['meta']
    m = ResNetCifar((meta['depth'] - 2) // 6, False, meta['shortcut'], meta['num_classes'])
    m.load_state_dict(ck['state_dict'], strict=True)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    return m.to(dtype=dtype, memory_format=fmt).train(), fmt


def read_batch(prefix):
    y = torch.from_numpy(np.fromfile(prefix + '.y', dtype='<i4').astype(np.int64))
    return read_input(prefix + '.x', len(y)), y


def sgd_step(model, opt, x, y):
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()


def worker(rank, a, batches, out):
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{a.port}', rank=rank, world_size=len(batches))
    m, fmt = start_model(a)
    ddp = torch.nn.parallel.DistributedDataParallel(m)
    opt = torch.optim.SGD(ddp.parameters(), lr=a.lr, momentum=0.9, weight_decay=1e-4)
    for prefix in batches[rank]:
        x, y = read_batch(prefix)
        sgd_step(ddp, opt, x.contiguous(memory_format=fmt), y)
    if rank == 0:
        torch.save(m.state_dict(), out)
    dist.destroy_process_group()


def global_batch(a, batches, out, dtype=torch.float32):
    torch.set_num_threads(1)
    m, fmt = start_model(a, dtype)
    opt = torch.optim.SGD(m.parameters(), lr=a.lr, momentum=0.9, weight_decay=1e-4)
    for step in zip(*batches):
        parts = [read_batch(p) for p in step]
        x = torch.cat([x for x, _ in parts]).to(dtype).contiguous(memory_format=fmt)
        sgd_step(m, opt, x, torch.cat([y for _, y in parts]))
    torch.save(m.state_dict(), out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--after', required=True)
    ap.add_argument('--batches', required=True)
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--lr', type=float, default=0.1)
    ap.add_argument('--channels-last', type=int, default=1)
    ap.add_argument('--global-batch', action='store_true')
    a = ap.parse_args()
    batches = [r.split(',') for r in a.batches.split(';')]
    out = os.path.join(tempfile.mkdtemp(), 'ddp.pt')
    if a.global_batch:
        global_batch(a, batches, out)
    else:
        mp.spawn(worker, args=(a, batches, out), nprocs=len(batches), join=True)
    theirs = torch.load(out, weights_only=True)
    ours = torch.load(a.after, weights_only=True)['state_dict']
    start = torch.load(a.ckpt, weights_only=True)['state_dict']
    r = compare(ours, theirs, start)
    if a.global_batch:
        # float32 arithmetic in another order drifts apart over steps (BatchNorm biases near zero the most): beside
        # the float32 reference, both against float64, as PyTorch's own float32 drifts from it.
        out64 = os.path.join(os.path.dirname(out), 'f64.pt')
        global_batch(a, batches, out64, torch.float64)
        f64 = torch.load(out64, weights_only=True)
        r['oursVsF64'] = compare(ours, f64, start)['rel']
        r['torchVsF64'] = compare(theirs, f64, start)['rel']
    print(json.dumps(r))


def compare(ours, theirs, start):
    num = den = moved = 0.0
    worst, worst_rel = '-', 0.0
    for k, t in theirs.items():
        if not t.is_floating_point():
            continue
        t = t.double()
        d = (ours[k].double() - t).norm().item()
        if d / max(t.norm().item(), 1e-30) > worst_rel:
            worst, worst_rel = k, d / max(t.norm().item(), 1e-30)
        num += d ** 2
        den += t.norm().item() ** 2
        moved += (t - start[k].double()).norm().item() ** 2
    return {'rel': (num / den) ** 0.5, 'moved': moved ** 0.5, 'worst': worst, 'worstRel': worst_rel}

if __name__ == '__main__':
    main()
