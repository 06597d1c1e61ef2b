# Seed corpora for npm run fuzz, from real files: python3 test/fuzz/seeds.py OUT_DIR [CIFAR10_DIR] [OURS_DIR].
# Writes OUT_DIR/<target>/<name> for the targets of test/fuzz/*.cc: PyTorch-written state dicts (zip and legacy
# format), akamaster-layout training checkpoints, plain-data pickles, safetensors written by Python's safetensors,
# TorchScript and plain zips, JSON headers, CIFAR-10 batches cut small; OURS_DIR's files (our checkpoints, written
# by scripts/reliability/fuzz.ts with the library) join torch_save, zip, safetensors and json.
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import torch
from safetensors.torch import save as st_save

out, cifar, ours = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else ''), (sys.argv[3] if len(sys.argv) > 3 else '')


def put(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), 'wb') as f:
        f.write(data)


def saved(obj, legacy=False):
    b = io.BytesIO()
    torch.save(obj, b, _use_new_zipfile_serialization=not legacy)
    return b.getvalue()


torch.manual_seed(0)
small = collections.OrderedDict([('conv.weight', torch.randn(4, 3, 3, 3)), ('bn.weight', torch.ones(4)),
                                 ('bn.running_var', torch.ones(4)), ('bn.num_batches_tracked', torch.tensor(7)),
                                 ('fc.weight', torch.randn(10, 4)), ('fc.bias', torch.zeros(10))])
shared = torch.arange(12.)
objects = {
    'state_dict': small,
    'views': {'a': shared, 'b': shared[2:6], 'c': shared.view(3, 4).t(), 'h': torch.zeros(3, dtype=torch.half),
              'bf': torch.zeros(2, dtype=torch.bfloat16), 'i': torch.arange(3), 'bool': torch.tensor([True])},
    'akamaster': {'epoch': 200, 'best_prec1': 91.25, 'state_dict': {'module.' + k: v for k, v in small.items()}},
    'plain': {'meta': {'format': 'resnet-cifar', 'format_version': 1, 'depth': 8, 'shortcut': 'A', 'num_classes': 10,
                       'list': [1, 2.5, 'x', None, True, (1, 2)], 'nested': {'a': {'b': [[1], [2]]}}},
              'state_dict': {}},
}
for name, obj in objects.items():
    put('torch_save', f'{name}.pt', saved(obj))
    put('torch_save', f'{name}-legacy.pt', saved(obj, legacy=True))
    put('zip', f'{name}.pt', saved(obj))
    legacy = saved(obj, legacy=True)
    f = io.BytesIO(legacy)
    for _ in range(3):  # magic, protocol version, sys_info: the pickle target's fixed header
        pickle.load(f)
    put('pickle', f'{name}.pkl', legacy[f.tell():])
for name, obj in [('list', [1, 2, [3, (4, 5)], {'k': 'v'}]), ('floats', [0.5, -1e300, 2 ** 62, -(2 ** 63)]),
                  ('dict', {'a': None, 'b': True, 'c': b'bytes'.decode()})]:
    for proto in (2, 4):
        put('pickle', f'{name}-p{proto}.pkl', pickle.dumps(obj, protocol=proto) + struct.pack('<q', 0))
module = torch.jit.script(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()))
b = io.BytesIO()
torch.jit.save(module, b)
put('zip', 'torchscript.pt', b.getvalue())
put('torch_save', 'torchscript.pt', b.getvalue())
b = io.BytesIO()
with zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('archive/data.pkl', pickle.dumps({'a': 1}, protocol=2))
    z.writestr('archive/version', '3\n')
put('zip', 'deflated.zip', b.getvalue())
put('torch_save', 'deflated.zip', b.getvalue())
for name, tensors, meta in [('small', dict(small), None), ('meta', {'w': torch.zeros(2, 2)}, {'format': 'resnet-cifar',
                            'meta': json.dumps(objects['plain']['meta'])}), ('empty', {}, {'k': 'v'})]:
    data = st_save(tensors, metadata=meta)
    put('safetensors', f'{name}.safetensors', data)
    put('torch_save', f'{name}.safetensors', data)
    n = struct.unpack('<Q', data[:8])[0]
    put('json', f'{name}-header.json', data[8:8 + n])
put('json', 'meta.json', json.dumps(objects['plain']['meta']).encode())
put('json', 'numbers.json', b'[0, -0.5, 1e-300, 12345678901234567890, "\\u00e9\\ud83d\\ude00", {"a": [true, false, null]}]')
if cifar and os.path.exists(os.path.join(cifar, 'test_batch.bin')):
    with open(os.path.join(cifar, 'test_batch.bin'), 'rb') as f:
        put('cifar_batch', 'ten-records.bin', b'\0' + f.read(3073 * 10))
else:
    put('cifar_batch', 'ten-records.bin', b'\0' + bytes(3073 * 10))
put('cifar_batch', 'whole-size.bin', b'\1' + bytes(64))
put('cifar_batch', 'cifar100-coarse.bin', b'\2' + (bytes([3, 42]) + bytes(range(256)) * 12) * 3)
put('cifar_batch', 'cifar100-fine.bin', b'\6' + (bytes([3, 42]) + bytes(range(256)) * 12) * 3)
# .tar.gz archives laid out as the official one, with its members cut small, in each tar dialect.
import gzip
import tarfile
records = bytes(3073 * 4)
if cifar and os.path.exists(os.path.join(cifar, 'test_batch.bin')):
    with open(os.path.join(cifar, 'test_batch.bin'), 'rb') as f:
        records = f.read(3073 * 4)
for fmt, name in [(tarfile.USTAR_FORMAT, 'ustar'), (tarfile.GNU_FORMAT, 'gnu'), (tarfile.PAX_FORMAT, 'pax')]:
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode='w', format=fmt) as t:
        for member, data in [('cifar-10-batches-bin/batches.meta.txt', b'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n'),
                             ('cifar-10-batches-bin/test_batch.bin', records),
                             ('./cifar-10-batches-bin/' + ('long-' * 30 if fmt != tarfile.USTAR_FORMAT else 'a/' * 40) + 'name.bin', b'x' * 10)]:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    put('tar_gz', f'{name}.tar.gz', gzip.compress(b.getvalue(), 6, mtime=0))
put('tar_gz', 'two-members.tar.gz', gzip.compress(b.getvalue()[:1024], mtime=0) + gzip.compress(b.getvalue()[1024:], mtime=0))
# IDX: the real Fashion-MNIST files (Debian's dataset-fashion-mnist), their heads and gzip forms, and small ones.
fashion = '/usr/share/datasets/fashion-mnist'
if os.path.isdir(fashion):
    with gzip.open(os.path.join(fashion, 't10k-labels-idx1-ubyte.gz')) as f:
        labels = f.read()
    with gzip.open(os.path.join(fashion, 't10k-images-idx3-ubyte.gz')) as f:
        images = f.read(16 + 20 * 784)
    put('idx', 'labels.idx1', labels[:8 + 20])
    put('idx', 'images-head.idx3', struct.pack('>HBBIII', 0, 8, 3, 20, 28, 28) + images[16:])
    put('idx', 'labels.idx1.gz', gzip.compress(labels[:8 + 200], mtime=0))
put('idx', 'tiny.idx3', struct.pack('>HBBIII', 0, 8, 3, 2, 8, 8) + bytes(range(128)))
# PNGs of every colour type the PNG fast path takes (and some it leaves to sharp), written by Pillow.
try:
    from PIL import Image
    for mode in ('L', 'LA', 'RGB', 'RGBA', 'P', 'I;16', '1'):
        for side in (8, 32):
            img = Image.frombytes('RGB', (side, side), bytes((i * 37) % 256 for i in range(side * side * 3))).convert(mode)
            b = io.BytesIO()
            img.save(b, 'PNG', **({'transparency': 0} if mode in ('P', 'L') and side == 8 else {}))
            put('png', f'{mode.replace(";", "")}-{side}.png', b.getvalue())
    b = io.BytesIO()
    Image.new('RGB', (16, 16), (200, 10, 10)).save(b, 'PNG', interlace=1)
    put('png', 'interlaced-16.png', b.getvalue())
    # JPEGs for the JPEG fast path: baseline and progressive, 4:4:4 / 4:2:2 / 4:2:0, grey, restart markers, odd sizes.
    for mode, side, kw in (('RGB', 16, {'subsampling': 0}), ('RGB', 24, {'subsampling': 1}), ('RGB', 32, {'subsampling': 2}),
                           ('RGB', 33, {'progressive': True}), ('L', 16, {}), ('L', 21, {'progressive': True}),
                           ('RGB', 40, {'restart_marker_blocks': 2}), ('CMYK', 16, {})):
        img = Image.frombytes('RGB', (side, side), bytes((i * 37) % 256 for i in range(side * side * 3))).convert(mode)
        b = io.BytesIO()
        img.save(b, 'JPEG', quality=90, **kw)
        put('jpeg', f'{mode}-{side}-{"-".join(kw) or "baseline"}.jpg', b.getvalue())
except ImportError:
    pass
put('idx', 'tiny.idx3.gz', gzip.compress(struct.pack('>HBBIII', 0, 8, 3, 2, 8, 8) + bytes(128), mtime=0))
put('idx', 'four-dims.idx4', struct.pack('>HBBIIII', 0, 8, 4, 1, 8, 8, 3) + bytes(192))
if ours and os.path.isdir(ours):
    for f in sorted(os.listdir(ours)):
        data = open(os.path.join(ours, f), 'rb').read()
        put('torch_save', f, data)
        if f.endswith('.safetensors'):
            put('safetensors', f, data)
            n = struct.unpack('<Q', data[:8])[0]
            put('json', f + '.header.json', data[8:8 + n])
        else:
            put('zip', f, data)
print(f'seeds in {out}: ' + ', '.join(f'{t} {len(os.listdir(os.path.join(out, t)))}' for t in sorted(os.listdir(out))))
