"""Python's side of test/interop.test.ts (PyTorch 2.13 and safetensors, run in the test):

  python3 interop.py aoti --out PKG --input in.f32 --n N --logits out.f32 [--depth 8]
      torch.export + aoti_compile_and_package of akamaster's ResNet with a dynamic batch dimension; its logits
  python3 interop.py retarget --src PKG --out PKG2 [--device cuda] [--isa 'AVX512 AMX_TILE'] [--machine aarch64]
      the same package with its metadata saying it was compiled for another device, instruction set or machine
  python3 interop.py read-safetensors --file F --ckpt CK
      our safetensors read by safetensors.torch.load_file, compared with our torch.save checkpoint of the same model
  python3 interop.py write-safetensors --out F --depth 20 --input in.f32 --n N --logits out.f32
      a seed-layout state dict (bias-free convs, option B projections, which both layouts place alike) written by
      safetensors' save_file; its logits
"""
import argparse, json, os, shutil, sys, zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from akamaster import ResNet as Akamaster, randomize_bn as stats  # noqa: E402


def logits(model, a):
    x = torch.from_numpy(np.fromfile(a.input, dtype=np.float32).reshape(a.n, 3, 32, 32))
    with torch.no_grad():
        model(x).numpy().astype(np.float32).tofile(a.logits)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('cmd')
    ap.add_argument('--out')
    ap.add_argument('--src')
    ap.add_argument('--device')
    ap.add_argument('--isa')
    ap.add_argument('--machine')
    ap.add_argument('--file')
    ap.add_argument('--ckpt')
    ap.add_argument('--input')
    ap.add_argument('--n', type=int)
    ap.add_argument('--logits')
    ap.add_argument('--depth', type=int, default=8)
    a = ap.parse_args()
    torch.manual_seed(0)
    if a.cmd == 'aoti':
        model = stats(Akamaster((a.depth - 2) // 6))
        logits(model, a)
        batch = torch.export.Dim('batch', min=1, max=4096)
        ep = torch.export.export(model, (torch.randn(2, 3, 32, 32),), dynamic_shapes={'x': {0: batch}})
        tmp = a.out + '.tmp.pt2'
        torch._inductor.aoti_compile_and_package(ep, package_path=tmp)
        os.replace(tmp, a.out)
    elif a.cmd == 'retarget':
        with zipfile.ZipFile(a.src) as zin, zipfile.ZipFile(a.out, 'w', zipfile.ZIP_STORED) as zout:
            for info in zin.infolist():
                data = zin.read(info.filename)
                if info.filename.endswith('_metadata.json'):
                    meta = json.loads(data)
                    for key, value in (('AOTI_DEVICE_KEY', a.device), ('AOTI_CPU_ISA', a.isa), ('AOTI_MACHINE', a.machine)):
                        if value is not None:
                            meta[key] = value
                    data = json.dumps(meta).encode()
                zout.writestr(info.filename, data)
    elif a.cmd == 'read-safetensors':
        from safetensors import safe_open
        from safetensors.torch import load_file
        ours = load_file(a.file)
        ck = torch.load(a.ckpt, weights_only=True)['state_dict']
        with safe_open(a.file, 'pt') as f:
            meta = f.metadata()
        diff = max((ours[k].double() - ck[k].double()).abs().max().item() for k in ck)
        print(json.dumps({'keys_equal': sorted(ours) == sorted(ck), 'max_diff': diff, 'format': meta.get('format'),
                          'meta': json.loads(meta['meta']), 'dtype': str(ours['conv.weight'].dtype)}))
    elif a.cmd == 'write-safetensors':
        from safetensors.torch import save_file
        model = stats(Akamaster((a.depth - 2) // 6, option='B'))
        logits(model, a)
        names = {'conv1.': 'conv.', 'bn1.': 'bn.', 'layer': 'block', 'linear.': 'fc.'}
        sd = {}
        for k, v in model.state_dict().items():
            for old, new in names.items():
                if k.startswith(old):
                    k = new + k[len(old):]
                    break
            sd[k] = v.contiguous()
        save_file(sd, a.out, metadata={'written_by': 'safetensors'})
    else:
        sys.exit('unknown command ' + a.cmd)


if __name__ == '__main__':
    main()
