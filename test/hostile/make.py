# Writes the crafted files of test/hostile/ (python3 test/hostile/make.py): each once crashed, hung or exhausted
# Node through the public API, or reaches a bound of native/core/base/limits.h. test/hostile-files.test.ts replays every file
# here (.gz files unpacked first) and expects an Error naming it, with Node alive and its memory bounded. Files a
# fuzzer finds are added beside these as they are (npm run fuzz copies them with a name saying where they came from).
import gzip
import io
import os
import struct
import sys
import tarfile
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def u(s):  # BINUNICODE
    b = s.encode()
    return b'X' + struct.pack('<I', len(b)) + b


def k(n):  # BININT1 / BININT
    return b'K' + bytes([n]) if n < 256 else b'J' + struct.pack('<i', n)


def put(i):  # LONG_BINPUT
    return b'r' + struct.pack('<I', i)


def get(i):  # LONG_BINGET
    return b'j' + struct.pack('<I', i)


def checkpoint_pickle(extra_meta=b'', top=None):
    """Our checkpoint's shape ({'state_dict': {}, 'meta': {... 'x': <extra_meta>}}), or `top` as the whole pickle."""
    if top is not None:
        return b'\x80\x02' + top + b'.'
    meta = (b'}(' + u('format') + u('resnet-cifar') + u('format_version') + k(1) + u('depth') + k(20) +
            u('shortcut') + u('A') + u('num_classes') + k(10) + (u('x') + extra_meta if extra_meta else b'') + b'u')
    return b'\x80\x02}(' + u('state_dict') + b'}' + u('meta') + meta + b'u.'


def torch_zip(pkl, records=(), name='archive'):
    """A zip laid out as torch.save lays it out (stored members), around a data.pkl of our choosing."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED) as z:
        z.writestr(f'{name}/data.pkl', pkl)
        z.writestr(f'{name}/.format_version', b'1')
        z.writestr(f'{name}/.storage_alignment', b'64')
        z.writestr(f'{name}/byteorder', b'little')
        for key, data in records:
            z.writestr(f'{name}/data/{key}', data)
        z.writestr(f'{name}/version', b'3\n')
    return out.getvalue()


def write(name, data, compress=False):
    path = os.path.join(HERE, name + ('.gz' if compress else ''))
    with open(path, 'wb') as f:
        f.write(gzip.compress(data, 9, mtime=0) if compress else data)
    print(f'{path}: {len(data)} bytes' + (f' ({os.path.getsize(path)} gzipped)' if compress else ''))


DEEP = 1_000_000


def main():
    # Nesting a million levels deep (once SIGSEGV: recursion on conversion and on destruction).
    write('deep-tuple.pt', torch_zip(checkpoint_pickle(top=k(0) + b'\x85' * DEEP)), compress=True)
    write('deep-list-in-meta.pt', torch_zip(checkpoint_pickle(b']' * (DEEP + 1) + b'a' * DEEP)), compress=True)
    write('deep-dict.pt', torch_zip(checkpoint_pickle(top=b'}' + (u('k') + b'}') * DEEP + b's' * DEEP)), compress=True)
    # A list that holds itself through the memo (once SIGSEGV).
    write('cycle-in-meta.pt', torch_zip(checkpoint_pickle(b']' + put(0) + get(0) + b'a')))
    # Two lists holding each other, reached through a tuple.
    write('cycle-two-lists.pt', torch_zip(checkpoint_pickle(b']' + put(0) + b']' + put(1) + get(0) + b'a' + b'a' +
                                                            b'\x85')))
    # Values shared through the memo, doubling at every level: 2^60 values once expanded (once never returned).
    doubling = b'(' + k(0) + put(0)
    for i in range(1, 61):
        doubling += b']' + get(i - 1) + b'a' + get(i - 1) + b'a' + put(i)
    write('doubling-meta.pt', torch_zip(checkpoint_pickle(doubling + b't')))
    # A tensor record whose shape reaches far past its 4-byte storage.
    rebuild = (b'ctorch._utils\n_rebuild_tensor_v2\n(' + b'(' + u('storage') + b'ctorch\nFloatStorage\n' + u('0') +
               u('cpu') + k(1) + b'tQ' + k(0) + k(100) + k(200) + b'\x86' + k(200) + k(1) + b'\x86' + b'\x89' +
               b'ccollections\nOrderedDict\n)R' + b'tR')
    write('tensor-past-storage.pt', torch_zip(b'\x80\x02}(' + u('w') + rebuild + b'u.', [('0', b'\0' * 4)]))
    # A storage declaring 2^62 elements of a 0-byte record (numel * 4 wraps to 0 in 64 bits).
    huge = (b'ctorch._utils\n_rebuild_tensor_v2\n(' + b'(' + u('storage') + b'ctorch\nFloatStorage\n' + u('0') +
            u('cpu') + b'\x8a\x08' + struct.pack('<q', 1 << 62) + b'tQ' + k(0) + b'\x8a\x08' + struct.pack('<q', 1 << 62) +
            b'\x85' + k(1) + b'\x85' + b'\x89' + b'ccollections\nOrderedDict\n)R' + b'tR')
    write('storage-size-wraps.pt', torch_zip(b'\x80\x02}(' + u('w') + huge + b'u.', [('0', b'')]))
    # A zip whose one member, 136 bytes in all, declares 4 GiB uncompressed (once 4.2 GB of RSS before its error).
    body = zlib.compressobj(9, zlib.DEFLATED, -15)
    comp = body.compress(b'\0' * 1000) + body.flush()
    name = b'archive/data.pkl'
    local = struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, 0, 8, 0, 0, zlib.crc32(b'\0' * 1000), len(comp), 0xFFFFFFFE,
                        len(name), 0) + name + comp
    cd = struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 20, 20, 0, 8, 0, 0, zlib.crc32(b'\0' * 1000), len(comp),
                     0xFFFFFFFE, len(name), 0, 0, 0, 0, 0, 0) + name
    eocd = struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 1, 1, len(cd), len(local), 0)
    write('zip-declares-4gib.pt', local + cd + eocd)
    # A ZIP64 extra field pointing a member's local header 2^64 - 16 bytes in (offset arithmetic that wraps).
    extra = struct.pack('<HHQ', 1, 8, (1 << 64) - 16)
    cd = struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 45, 45, 0, 0, 0, 0, 0, 0, 0, len(name), len(extra), 0, 0, 0,
                     0, 0xFFFFFFFF) + name + extra
    local = struct.pack('<IHHHHHIIIHH', 0x04034b50, 45, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
    eocd = struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 1, 1, len(cd), len(local), 0)
    write('zip64-offset-wraps.pt', local + cd + eocd)
    # An extra field whose length runs past the directory entry and the file.
    extra = struct.pack('<HH', 1, 60000) + b'\xff' * 8
    cd = struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 45, 45, 0, 0, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF, len(name),
                     len(extra), 0, 0, 0, 0, 0) + name + extra
    eocd = struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 1, 1, len(cd), len(local), 0)
    write('zip-extra-past-end.pt', local + cd + eocd)
    # 10 MB of zeros deflated to 10 KB, listed as 2,000 members (20 GB to inflate and check, listing by listing).
    data = b'\0' * (10 << 20)
    comp = zlib.compress(data, 9)[2:-4]
    crc = zlib.crc32(data)
    local = struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, 0, 8, 0, 0, crc, len(comp), len(data), len(name), 0) + name + comp
    cds = b''
    for i in range(2000):
        n = f'archive/m{i}'.encode()
        cds += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 20, 20, 0, 8, 0, 0, crc, len(comp), len(data), len(n), 0,
                           0, 0, 0, 0, 0) + n
    eocd = struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 2000, 2000, len(cds), len(local), 0)
    write('zip-members-share-bytes.pt', local + cds + eocd)
    # Legacy torch.save: a storage declaring 2^35 floats (128 GiB) in a 300-byte file.
    legacy_magic = bytes([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e])
    head = legacy_magic + b'\x80\x02' + b'M' + struct.pack('<H', 1001) + b'.' + b'\x80\x02}(' + u('little_endian') + b'\x88u.'

    def legacy_tensor(numel, size):
        return (b'ctorch._utils\n_rebuild_tensor\n(' + b'(' + u('storage') + b'ctorch\nFloatStorage\n' + u('0') +
                u('cpu') + b'\x8a\x08' + struct.pack('<q', numel) + b'NtQ' + k(0) + b'\x8a\x08' +
                struct.pack('<q', size) + b'\x85' + k(1) + b'\x85' + b'tR')

    write('legacy-storage-128gib.pt', head + b'\x80\x02}(' + u('w') + legacy_tensor(1 << 35, 1 << 35) + b'u.' +
          b'\x80\x02]' + u('0') + b'a.' + struct.pack('<q', 1 << 35))
    # Legacy: a tensor of 1,000,000 elements over a 1-element storage (the storage would have grown to fit it).
    write('legacy-tensor-past-storage.pt', head + b'\x80\x02}(' + u('w') + legacy_tensor(1, 1_000_000) + b'u.' +
          b'\x80\x02]' + u('0') + b'a.' + struct.pack('<q', 1) + b'\0' * 4)
    # safetensors: a header of one flat array of 3 million numbers (once 4-6 GB of RSS and up to a minute).
    header = b'{"a":' + b'[' + b'0,' * 3_000_000 + b'0]}'
    write('header-flat-array.safetensors', struct.pack('<Q', len(header)) + header, compress=True)
    # safetensors: JSON outside the grammar (hex float), a key twice, a gap between tensors, bytes after the last.
    def st(h, data=b''):
        h = h.encode()
        return struct.pack('<Q', len(h)) + h + data
    write('header-hex-float.safetensors', st('{"a":{"dtype":"F32","shape":[0x1p2],"data_offsets":[0,16]}}', b'\0' * 16))
    write('header-duplicate-key.safetensors', st('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                                  '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b'\0' * 8))
    write('tensors-with-gap.safetensors', st('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                             '"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', b'\0' * 12))
    write('bytes-after-last-tensor.safetensors', st('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b'\0' * 9))
    write('shape-overflows.safetensors', st('{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],'
                                            '"data_offsets":[0,0]}}'))
    # CIFAR-10 .tar.gz: data_batch_1.bin declaring 3 GiB (once 6.3 GB of RSS before its error); a 2 GiB pax header.
    for what, member, size in [('tar-batch-3gib', 'cifar-10-batches-bin/data_batch_1.bin', 3 << 30),
                               ('tar-pax-2gib', 'cifar-10-batches-bin/test_batch.bin', 2 << 30)]:
        info = tarfile.TarInfo(member)
        info.size = size
        if what == 'tar-pax-2gib':
            info.type = tarfile.XHDTYPE
        hdr = info.tobuf(tarfile.USTAR_FORMAT if size < (8 << 30) else tarfile.GNU_FORMAT)
        write(f'{what}.tar.gz', gzip.compress(hdr + b'\0' * (1 << 20), 9, mtime=0))
    # IDX (MNIST format): a header declaring 4 GiB of images over 16 bytes; four dimensions whose product wraps 64 bits.
    write('idx-declares-4gib.idx', struct.pack('>HBBIII', 0, 8, 3, 65536, 256, 256) + b'\0' * 16)
    write('idx-dims-wrap.idx', struct.pack('>HBBIIII', 0, 8, 4, *([0xFFFFFFFF] * 4)) + b'\0' * 16)
    # PNG: an image declaring 40,000 × 40,000 pixels (1.6 billion) over a few bytes of image data, CRCs right.
    def chunk(kind, body):
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body) & 0xFFFFFFFF)
    write('png-declares-1g6-pixels.png', b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 40000, 40000, 8, 2, 0, 0, 0)) +
          chunk(b'IDAT', zlib.compress(b'\0' * 4096)) + chunk(b'IEND', b''))
    # JPEG: a baseline JPEG (Pillow's, 8×8) whose frame header declares 65,500 × 65,500 pixels (4.3 billion).
    try:
        from PIL import Image
        b = io.BytesIO()
        Image.new('RGB', (8, 8), (90, 120, 200)).save(b, 'JPEG', quality=90)
        jpeg = bytearray(b.getvalue())
        sof = jpeg.index(b'\xff\xc0')
        jpeg[sof + 5:sof + 9] = struct.pack('>HH', 65500, 65500)
        write('jpeg-declares-4g3-pixels.jpg', bytes(jpeg))
    except ImportError:
        print('Pillow missing: jpeg-declares-4g3-pixels.jpg not made')


if __name__ == '__main__':
    main()
