// The page's logic: ONNX Runtime Web (wasm backend) runs /model.onnx, an export of a resnet-cifar network whose
// graph takes pixels in [0, 1] (NCHW, [batch, channels, height, width]: RGB, or grey) and returns logits;
// /model.json says its class names and input (from the file's metadata_props).
// ort: ONNX Runtime Web, loaded by index.html before this script.
'use strict';

ort.env.wasm.wasmPaths = '/ort/';
ort.env.wasm.numThreads = 1; // threads need cross-origin isolation; one is plenty for 32×32 images

const status = document.getElementById('status');
let session;
let classes = [];
let input = { channels: 3, height: 32, width: 32 };

const toLinear = (c) => (c <= 10.31475 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
const toSrgb = (y) => 255 * (y <= 0.0031308 ? 12.92 * y : 1.055 * y ** (1 / 2.4) - 0.055);

/** The grey value libvips (sharp's grayscale, as the network was trained) gives an sRGB pixel: luminance in linear light. */
function grey(r, g, b) {
  if (r === g && g === b) return r;
  return Math.min(255, Math.max(0, Math.round(toSrgb(0.2126 * toLinear(r) + 0.7152 * toLinear(g) + 0.0722 * toLinear(b)))));
}

/**
 * Logits for n images given as RGBA bytes (height × width each), as the page's canvases hold them; a grey network
 * gets their grey value as sharp decodes it.
 */
async function classifyRgba(rgba, n) {
  return classifyPixels(toInput(rgba, n), n);
}

/** The network's input for n RGBA images: NCHW float32 in [0, 1]. */
function toInput(rgba, n) {
  const { channels: C, height: H, width: W } = input;
  const plane = H * W;
  const x = new Float32Array(n * C * plane);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < plane; p++) {
      const o = (i * plane + p) * 4;
      if (C === 1) {
        x[i * plane + p] = grey(rgba[o], rgba[o + 1], rgba[o + 2]) / 255;
      } else {
        for (let c = 0; c < 3; c++) x[i * 3 * plane + c * plane + p] = rgba[o + c] / 255;
      }
    }
  }
  return x;
}

/** Logits for n images given as NCHW float32 pixels in [0, 1]. */
async function classifyPixels(x, n) {
  const out = await session.run({ pixels: new ort.Tensor('float32', x, [n, input.channels, input.height, input.width]) });
  return Array.from(out.logits.data);
}

function ranked(logits, k) {
  const max = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((p, i) => ({ name: classes[i], p: p / sum, i })).sort((a, b) => b.p - a.p).slice(0, k);
}

/** A canvas with its caption's lines (text: class names come from the model's file). */
function figure(parent, canvas, lines, className) {
  const f = document.createElement('figure');
  const c = document.createElement('figcaption');
  lines.forEach((line, i) => {
    if (i) c.append(document.createElement('br'));
    c.append(document.createTextNode(line));
  });
  if (className) c.className = className;
  f.append(canvas, c);
  parent.append(f);
}

function canvasOf(rgba) {
  const canvas = document.createElement('canvas');
  canvas.width = input.width;
  canvas.height = input.height;
  canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(rgba), input.width, input.height), 0, 0);
  return canvas;
}

async function showSamples() {
  const s = await (await fetch('/samples.json')).json();
  const rgba = Uint8Array.from(atob(s.rgba), (ch) => ch.charCodeAt(0));
  const logits = await classifyRgba(rgba, s.labels.length);
  const predictions = [];
  s.labels.forEach((label, i) => {
    const l = logits.slice(i * classes.length, (i + 1) * classes.length);
    const [best] = ranked(l, 1);
    predictions.push(best.i);
    const ok = best.i === label;
    const size = input.width * input.height * 4;
    figure(document.getElementById('samples'), canvasOf(rgba.subarray(i * size, (i + 1) * size)),
      [`${best.name} ${(100 * best.p).toFixed(0)} %`, `(true: ${classes[label]})`], ok ? 'ok' : 'bad');
  });
  return { labels: s.labels, predictions, logits, names: predictions.map((k) => classes[k]) };
}

async function classifyFiles(files) {
  const results = [];
  for (const file of files) {
    const bitmap = await createImageBitmap(file);
    const canvas = document.createElement('canvas');
    canvas.width = input.width;
    canvas.height = input.height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, 0, 0, input.width, input.height);
    const x = toInput(ctx.getImageData(0, 0, input.width, input.height).data, 1);
    const logits = await classifyPixels(x, 1);
    const best = ranked(logits, 3);
    figure(document.getElementById('dropped'), canvas, best.map((b) => `${b.name} ${(100 * b.p).toFixed(0)} %`));
    results.push({ name: file.name, logits, prediction: best[0].i, label: best[0].name, input: Array.from(x) });
  }
  window.droppedResults = (window.droppedResults || []).concat(results);
  return results;
}

const drop = document.getElementById('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  classifyFiles([...e.dataTransfer.files].filter((f) => f.type.startsWith('image/')));
});
document.getElementById('files').addEventListener('change', (e) => { window.lastFiles = classifyFiles([...e.target.files]); });

(async () => {
  try {
    session = await ort.InferenceSession.create('/model.onnx', { executionProviders: ['wasm'] });
    const info = await (await fetch('/model.json')).json();
    classes = info.classes;
    input = { channels: info.channels, height: info.height, width: info.width };
    document.getElementById('title').textContent = `${classes.length} classes: ${classes.join(', ')}`;
    document.getElementById('size').textContent = `${input.width}×${input.height}`;
    window.sampleResults = await showSamples();
    status.textContent = `ONNX Runtime Web ${ort.env.versions.web}, wasm backend: ready.`;
  } catch (e) {
    status.textContent = `failed: ${e.message}`;
    window.failed = String(e.stack || e);
  }
})();
