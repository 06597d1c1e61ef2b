// A tiny local server for the browser example: the page, ONNX Runtime Web's wasm files (from node_modules), the
// exported network and a few CIFAR-10 test images.
//
//   npx tsx examples/browser/server.ts [--port 8080] [--model resnet20.onnx] [--data DIR] [--samples 16]
//
// Without --model it exports the shipped pretrained ResNet-20 with input 'pixels' (RGB in [0, 1]) first. Open the
// printed address and drop images on the page.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { CIFAR10_CLASSES, Cifar10, ResNet } from '../../lib/index';

const HERE = __dirname;
const ORT_DIST = path.dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
// What the page loads from ONNX Runtime Web: its wasm-only script and the wasm runtime it imports.
const ORT_FILES = ['ort.wasm.min.js', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm',
  '.json': 'application/json', '.onnx': 'application/octet-stream',
};

export interface BrowserExample { url: string; model: string; samples: { rgba: Uint8Array; labels: number[] }; close(): Promise<void> }

/** The first `count` test images as RGBA bytes (32×32 each, alpha 255), as a canvas holds them. */
export function sampleImages(data: Cifar10, count: number): { rgba: Uint8Array; labels: number[] } {
  const { pixels, labels } = data.images(0, count);
  const rgba = new Uint8Array(count * 4096);
  for (let i = 0; i < count; i++) {
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) rgba[i * 4096 + p * 4 + c] = pixels[i * 3072 + c * 1024 + p];
      rgba[i * 4096 + p * 4 + 3] = 255;
    }
  }
  return { rgba, labels: Array.from(labels) };
}

export async function startBrowserExample(o: { model?: string; data: string; samples?: number; port?: number }): Promise<BrowserExample> {
  let model = o.model;
  let tmp: string | undefined;
  if (!model) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'resnet-cifar-browser-'));
    model = path.join(tmp, 'resnet20.onnx');
    const m = await ResNet.pretrained('resnet20');
    await m.save(model, { input: 'pixels' });
    m.dispose();
  }
  const samples = sampleImages(await Cifar10.load(o.data, { split: 'test' }), o.samples ?? 16);
  const samplesJson = JSON.stringify({ rgba: Buffer.from(samples.rgba).toString('base64'), labels: samples.labels });
  const files: Record<string, string> = { '/': path.join(HERE, 'index.html'), '/app.js': path.join(HERE, 'app.js'), '/model.onnx': model };
  for (const f of ORT_FILES) files[`/ort/${f}`] = path.join(ORT_DIST, f);
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/samples.json' || url === '/classes.json') {
      res.writeHead(200, { 'Content-Type': TYPES['.json'] }).end(url === '/samples.json' ? samplesJson : JSON.stringify(CIFAR10_CLASSES));
      return;
    }
    if (url === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const file = files[url];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url, model, samples,
    close: () => new Promise<void>((resolve) => server.close(() => {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      resolve();
    })),
  };
}

if (require.main === module) {
  const { values } = parseArgs({ options: { port: { type: 'string' }, model: { type: 'string' }, data: { type: 'string' }, samples: { type: 'string' } } });
  (async () => {
    const data = await Cifar10.locate({ source: values.data });
    const s = await startBrowserExample({ model: values.model, data, port: Number(values.port ?? 8080), samples: Number(values.samples ?? 16) });
    console.log(`resnet-cifar browser example: ${s.url} (model ${s.model}); Ctrl-C stops`);
  })().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
