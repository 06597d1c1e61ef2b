// Image files (anything sharp decodes) -> uint8 CHW at a network's input shape, and normalization for predict.
import { toNative, type Normalization } from '../base/normalization';
import type { ImageShape } from '../base/types';

const CIFAR_SHAPE: ImageShape = { channels: 3, height: 32, width: 32 };

/**
 * Decodes each file to `shape` (default CIFAR's 3×32×32): sRGB or grey, resized with sharp's default Lanczos filter
 * where needed; CHW uint8.
 */
export async function decodeImages(files: string[], shape: ImageShape = CIFAR_SHAPE): Promise<Uint8Array> {
  const sharp = require('sharp') as typeof import('sharp');
  const { channels: c, height: h, width: w } = shape;
  const plane = h * w;
  const out = new Uint8Array(files.length * c * plane);
  for (let i = 0; i < files.length; i++) {
    let hwc: Buffer;
    try {
      const img = sharp(files[i]).removeAlpha();
      hwc = await (c === 1 ? img.greyscale().toColourspace('b-w') : img.toColourspace('srgb')).resize(w, h, { fit: 'fill' }).raw().toBuffer();
    } catch (e) {
      throw new Error(`Cannot decode ${files[i]} as an image: ${(e as Error).message}`);
    }
    for (let p = 0; p < plane; p++) {
      for (let ch = 0; ch < c; ch++) out[(i * c + ch) * plane + p] = hwc[p * c + ch];
    }
  }
  return out;
}

/**
 * uint8 CHW images of `shape` -> (pixels / 255 - mean) / std, NCHW float32: the TypeScript definition of the formula
 * (native/core/data/normalization.h holds the C++ one), for images that do not come from a dataset.
 */
export function normalizeImages(pixels: Uint8Array, normalization: Normalization, shape: ImageShape = CIFAR_SHAPE): Float32Array {
  const { mean, std } = toNative(normalization);
  const plane = shape.height * shape.width;
  const per = shape.channels * plane;
  const perPixel = mean.length === per && mean.length !== std.length;
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const j = i % per;
    const c = Math.floor(j / plane);
    out[i] = (pixels[i] / 255 - (perPixel ? mean[j] : mean[c])) / std[c];
  }
  return out;
}
