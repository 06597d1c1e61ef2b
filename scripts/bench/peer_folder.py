"""The data-path peer: torchvision's ImageFolder + PIL with a DataLoader, decoding a folder of class folders.

python3 peer_folder.py DIR [--size 32] [--workers 2] [--batch 128] [--threads N] [--draft]

Prints one JSON line: images, seconds (from building the dataset to the last batch, workers' start included) and
images_per_s. Images are scaled (shorter side) and centre-cropped to --size, then made uint8 tensors
(PILToTensor), as resnet-cifar's fromFolder gives uint8 images. --draft: PIL's JPEG draft mode (libjpeg's DCT
scaling to the smallest of 1/1, 1/2, 1/4, 1/8 that keeps --size), which sharp uses by itself and ImageFolder's
default loader does not.
"""
import argparse
import json
import time

import torch

# The mirror's torchvision is a CUDA build: on torch+cpu its compiled ops do not load, and `import torchvision`
# fails while registering their fake kernels. Datasets and transforms need none of them.
torch.library.register_fake = lambda *a, **k: (lambda f: f)
from torch.utils.data import DataLoader  # noqa: E402
from torchvision import transforms  # noqa: E402
from torchvision.datasets import ImageFolder  # noqa: E402
from PIL import Image  # noqa: E402


def draft_loader(size):
    def load(path):
        with open(path, 'rb') as f:
            img = Image.open(f)
            img.draft('RGB', (size, size))
            return img.convert('RGB')
    return load


def main():
    p = argparse.ArgumentParser()
    p.add_argument('dir')
    p.add_argument('--size', type=int, default=32)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--draft', action='store_true')
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    t = time.perf_counter()
    tf = transforms.Compose([transforms.Resize(a.size), transforms.CenterCrop(a.size), transforms.PILToTensor()])
    ds = ImageFolder(a.dir, transform=tf, **({'loader': draft_loader(a.size)} if a.draft else {}))
    n = 0
    for x, _ in DataLoader(ds, batch_size=a.batch, num_workers=a.workers, shuffle=False):
        n += x.shape[0]
    s = time.perf_counter() - t
    print(json.dumps({'images': n, 'seconds': s, 'images_per_s': n / s}))


if __name__ == '__main__':
    main()
