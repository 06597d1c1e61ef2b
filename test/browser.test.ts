// The browser example in a real browser: Debian's Chromium, headless, driven by playwright-core, loads
// examples/browser/ (the shipped ResNet-20 exported to ONNX, run by ONNX Runtime Web's wasm backend); its
// predictions must be ours for the same images.
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { chromium, type Browser } from 'playwright-core';
import { ImageDataset, ResNet, Trainer } from '../lib/index';
import { REAL_CIFAR, relError, requires, tmpDir, withRealCifar } from './helpers';
import { startBrowserExample, type BrowserExample } from '../examples/browser/server';

const CHROMIUM = process.env.CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
const SAMPLES = 16;

/** Our logits for RGBA images (the page's input), normalized as the pretrained network was trained. */
async function ourLogits(model: ResNet, rgba: Uint8Array, n: number): Promise<Float32Array> {
  const norm = model.normalization;
  if (norm?.kind !== 'pixel') throw new Error('expected the shipped network to use per-pixel mean normalization');
  const x = new Float32Array(n * 3072);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) x[i * 3072 + c * 1024 + p] = rgba[i * 4096 + p * 4 + c] / 255 - norm.mean[c * 1024 + p];
    }
  }
  return model.predict(x, n);
}

const argmax = (l: ArrayLike<number>, i: number, k: number) => {
  let best = 0;
  for (let c = 1; c < k; c++) if (l[i * k + c] > l[i * k + best]) best = c;
  return best;
};

let browser: Browser | undefined;
let example: BrowserExample | undefined;
let example2: BrowserExample | undefined;

test.after.always(async () => {
  await browser?.close();
  await example?.close();
  await example2?.close();
});

async function launchBrowser(): Promise<Browser> {
  browser ??= await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  return browser;
}

type PageWindow = { sampleResults?: { labels: number[]; predictions: number[]; logits: number[]; names: string[] }; failed?: string };

requires(Boolean(CHROMIUM), 'Chromium', 'apt-get install chromium, or set CHROMIUM to its binary', withRealCifar(test.serial))('the browser example classifies CIFAR-10 test images and dropped files as we do (Chromium, ONNX Runtime Web)', async (t) => {
  t.timeout(10 * 60_000);
  const data = REAL_CIFAR!;
  example = await startBrowserExample({ data, samples: SAMPLES });
  const page = await (await launchBrowser()).newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(example.url);
  await page.waitForFunction(() => (globalThis as unknown as { sampleResults?: unknown; failed?: unknown }).sampleResults || (globalThis as unknown as { failed?: unknown }).failed, null, { timeout: 120_000 });
  const failed = await page.evaluate(() => (globalThis as unknown as { failed?: string }).failed);
  t.is(failed, undefined, failed);
  const shown = await page.evaluate(() => (globalThis as unknown as { sampleResults: { labels: number[]; predictions: number[]; logits: number[] } }).sampleResults);
  const model = await ResNet.pretrained('resnet20');
  const ours = await ourLogits(model, example.samples.rgba, SAMPLES);
  t.deepEqual(shown.labels, example.samples.labels);
  t.deepEqual(shown.predictions, Array.from({ length: SAMPLES }, (_, i) => argmax(ours, i, 10)), 'the page predicts what we predict');
  const err = relError(Float32Array.from(shown.logits), ours);
  t.log(`ONNX Runtime Web in Chromium vs ours on ${SAMPLES} test images: logits relative ${err.toExponential(2)}`);
  t.true(err < 1e-4, String(err));
  t.is(await page.locator('#samples figure').count(), SAMPLES);

  // Files given to the page (its file input, as a drop does): 32×32 PNGs of test images, so no scaling is involved.
  const dir = tmpDir('browser-drop-');
  const files: string[] = [];
  for (let i = 0; i < 4; i++) {
    const rgba = example.samples.rgba.subarray(i * 4096, (i + 1) * 4096);
    const file = path.join(dir, `test-${i}.png`);
    await sharp(Buffer.from(rgba), { raw: { width: 32, height: 32, channels: 4 } }).png().toFile(file);
    files.push(file);
  }
  await page.setInputFiles('#files', files);
  const dropped = await page.evaluate(async () => {
    const w = globalThis as unknown as { lastFiles: Promise<{ name: string; prediction: number }[]> };
    return w.lastFiles;
  });
  t.deepEqual(dropped.map((d) => d.prediction), [0, 1, 2, 3].map((i) => argmax(ours, i, 10)));
  t.is(await page.locator('#dropped figure').count(), 4);
  if (process.env.RESNET_CIFAR_SCREENSHOT) await page.screenshot({ path: process.env.RESNET_CIFAR_SCREENSHOT, fullPage: true });
  t.deepEqual(errors, []);
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

requires(Boolean(CHROMIUM), 'Chromium', 'apt-get install chromium, or set CHROMIUM to its binary', test.serial)('the browser example runs a grey network of other classes and size, and shows its class names', async (t) => {
  t.timeout(5 * 60_000);
  // A 1-channel 16×16 network for three classes, its class names and per-pixel mean from a short fit.
  const classes = ['circle', 'square', 'star'];
  const n = 24;
  const pixels = Uint8Array.from({ length: n * 256 }, (_, i) => (Math.floor(i / 256) % 3) * 60 + ((i * 7919) % 97));
  const data = await ImageDataset.fromArrays(pixels, Array.from({ length: n }, (_, i) => i % 3),
    { shape: { channels: 1, height: 16, width: 16 }, layout: 'nchw', classes });
  const model = new ResNet({ depth: 8, inChannels: 1, numClasses: 3, device: 'cpu' });
  await new Trainer(model, { iterations: 4, batchSize: 8 }).fit(data);
  const file = path.join(tmpDir('browser-grey-'), 'grey.onnx');
  await model.save(file, { input: 'pixels' });
  example2 = await startBrowserExample({ model: file, data, samples: 8 });
  t.deepEqual(example2.info, { classes, channels: 1, height: 16, width: 16 });
  const page = await (await launchBrowser()).newPage();
  await page.goto(example2.url);
  await page.waitForFunction(() => (globalThis as unknown as PageWindow).sampleResults || (globalThis as unknown as PageWindow).failed, null, { timeout: 120_000 });
  const w = await page.evaluate(() => {
    const g = globalThis as unknown as PageWindow;
    return { sampleResults: g.sampleResults, failed: g.failed };
  });
  t.is(w.failed, undefined, w.failed);
  const mean = model.normalization!.mean;
  const x = Float32Array.from({ length: 8 * 256 }, (_, i) => pixels[i] / 255 - mean[i % 256]);
  const ours = await model.predict(x, 8);
  const predictions = Array.from({ length: 8 }, (_, i) => argmax(ours, i, 3));
  t.deepEqual(w.sampleResults!.predictions, predictions);
  t.deepEqual(w.sampleResults!.names, predictions.map((k) => classes[k]));
  t.true(relError(Float32Array.from(w.sampleResults!.logits), ours) < 1e-4);
  t.regex(await page.locator('#title').innerText(), /3 classes: circle, square, star/);
  t.regex(await page.locator('#samples figure').first().innerText(), new RegExp(`^${classes[predictions[0]]} \\d+ %`));
  // A colour photo given to a grey network: the page's grey values are sharp's (luminance in linear light), as
  // training and predict decode it, within one level of 255.
  const rgb = Buffer.from(Uint8Array.from({ length: 256 * 3 }, (_, i) => (i * 7919 + (i >> 3) * 104729) % 256));
  const photo = path.join(tmpDir('browser-grey-'), 'colour.png');
  await sharp(rgb, { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(photo);
  await page.setInputFiles('#files', [photo]);
  const [shownGrey] = await page.evaluate(async () => (globalThis as unknown as { lastFiles: Promise<{ input: number[] }[]> }).lastFiles);
  const sharpGrey = await sharp(photo).greyscale().toColourspace('b-w').raw().toBuffer();
  t.is(shownGrey.input.length, 256);
  t.true(shownGrey.input.every((g, i) => Math.abs(Math.round(g * 255) - sharpGrey[i]) <= 1), 'grey values within one level of sharp\'s');
  model.dispose();
});
