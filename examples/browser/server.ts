// A tiny local server for the browser example: the page, ONNX Runtime Web's wasm files (from node_modules), the
// exported network, what the page needs to know of it (its class names, channels and input size, from the ONNX
// file's metadata_props) and a few test images of its data.
//
//   npx tsx examples/browser/server.ts [--port 8080] [--model net.onnx] [--data DIR|FILE] [--samples 16] [--size N]
//
// Without --model it exports the shipped pretrained ResNet-20 with input 'pixels' (RGB in [0, 1]) first. A model of
// your own (exported with { input: 'pixels' }) shows its own class names; --data is then its data (any source
// `train --data` takes). Open the printed address and drop images on the page.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { CIFAR10_CLASSES, Cifar10, ImageDataset, ResNet, readOnnxMetadata } from '../../lib/index';
import { loadSplit } from '../../lib/data/sources';

const HERE = __dirname;
const ORT_DIST = path.dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
// What the page loads from ONNX Runtime Web: its wasm-only script and the wasm runtime it imports.
const ORT_FILES = ['ort.wasm.min.js', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm',
  '.json': 'application/json', '.onnx': 'application/octet-stream',
};

/** What the page is told of the network: its class names and the images it takes. */
export interface ModelInfo { classes: string[]; channels: number; height: number; width: number }

export interface BrowserExample { url: string; model: string; info: ModelInfo; samples: { rgba: Uint8Array; labels: number[] }; close(): Promise<void> }

/**
 * The network an ONNX file holds, as our export describes it in metadata_props: its class names (else numbered),
 * channels, and input size (a per-pixel mean's; else `size`, else 32).
 */
export function modelInfo(file: string, size?: number): ModelInfo {
  const m = readOnnxMetadata(file);
  if (m.input !== undefined && !m.input.startsWith('pixels')) {
    throw new Error(`${file} takes normalized input; the page gives pixels: export it with { input: 'pixels' }`);
  }
  const channels = Number(m.in_channels ?? 3);
  const norm = m.normalization ? JSON.parse(m.normalization) as { shape?: number[] } : {};
  const [, height, width] = norm.shape ?? [channels, size ?? 32, size ?? 32];
  const k = Number(m.num_classes ?? CIFAR10_CLASSES.length);
  const classes = m.class_names ? JSON.parse(m.class_names) as string[]
    : k === CIFAR10_CLASSES.length ? [...CIFAR10_CLASSES] : Array.from({ length: k }, (_, i) => `class ${i}`);
  return { classes, channels, height, width };
}

/** The first `count` images as RGBA bytes (alpha 255, a grey image's value in R, G and B), as a canvas holds them. */
export function sampleImages(data: ImageDataset, count: number): { rgba: Uint8Array; labels: number[] } {
  const { channels: C, height: H, width: W } = data.shape;
  const n = Math.min(count, data.length);
  const { pixels, labels } = data.images(0, n);
  const plane = H * W;
  const rgba = new Uint8Array(n * plane * 4);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) rgba[(i * plane + p) * 4 + c] = pixels[i * C * plane + (C === 1 ? 0 : c) * plane + p];
      rgba[(i * plane + p) * 4 + 3] = 255;
    }
  }
  return { rgba, labels: Array.from(labels) };
}

export async function startBrowserExample(o: { model?: string; data: string | ImageDataset; samples?: number; port?: number; size?: number }): Promise<BrowserExample> {
  let model = o.model;
  let tmp: string | undefined;
  if (!model) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'resnet-cifar-browser-'));
    model = path.join(tmp, 'resnet20.onnx');
    const m = await ResNet.pretrained('resnet20');
    await m.save(model, { input: 'pixels' });
    m.dispose();
  }
  const info = modelInfo(model, o.size);
  const data = typeof o.data === 'string'
    ? await loadSplit(o.data, 'test', { size: info.height, grayscale: info.channels === 1 }) : o.data;
  if (data.shape.channels !== info.channels || data.shape.height !== info.height || data.shape.width !== info.width) {
    throw new Error(`the data's images are ${data.shape.channels}×${data.shape.height}×${data.shape.width}, the network takes ${info.channels}×${info.height}×${info.width}`);
  }
  const samples = sampleImages(data, o.samples ?? 16);
  const samplesJson = JSON.stringify({ rgba: Buffer.from(samples.rgba).toString('base64'), labels: samples.labels });
  const files: Record<string, string> = { '/': path.join(HERE, 'index.html'), '/app.js': path.join(HERE, 'app.js'), '/model.onnx': model };
  for (const f of ORT_FILES) files[`/ort/${f}`] = path.join(ORT_DIST, f);
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/samples.json' || url === '/model.json') {
      res.writeHead(200, { 'Content-Type': TYPES['.json'] }).end(url === '/samples.json' ? samplesJson : JSON.stringify(info));
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
    url, model, info, samples,
    close: () => new Promise<void>((resolve) => server.close(() => {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      resolve();
    })),
  };
}

if (require.main === module) {
  const { values } = parseArgs({ options: { port: { type: 'string' }, model: { type: 'string' }, data: { type: 'string' }, samples: { type: 'string' }, size: { type: 'string' } } });
  (async () => {
    const data = values.data !== undefined && values.model !== undefined ? values.data : await Cifar10.locate({ source: values.data });
    const s = await startBrowserExample({ model: values.model, data, port: Number(values.port ?? 8080), samples: Number(values.samples ?? 16),
      size: values.size === undefined ? undefined : Number(values.size) });
    console.log(`resnet-cifar browser example: ${s.url} (model ${s.model}); Ctrl-C stops`);
  })().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
