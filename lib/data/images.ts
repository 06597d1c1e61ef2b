// Image files (anything sharp decodes) -> uint8 CHW at a network's input shape, and normalization for predict.
import { toNative, type Normalization } from '../base/normalization';
import type { ImageShape } from '../base/types';

const CIFAR_SHAPE: ImageShape = { channels: 3, height: 32, width: 32 };

/** How an image is fitted to the network's size: sharp's resize fits ('cover': crop to the aspect, centred). */
export type ImageFit = 'fill' | 'cover' | 'contain';

/** Pixels sharp will decode from one file before refusing it (a decompression bomb): 100 megapixels by default. */
export const MAX_INPUT_PIXELS = 100_000_000;

/**
 * One file decoded to `shape` as interleaved HWC bytes: rotated as its EXIF orientation says, its alpha dropped,
 * sRGB or grey, resized with sharp's default Lanczos filter as `fit` says. An Error naming the file otherwise.
 */
export async function decodeImage(file: string, shape: ImageShape, fit: ImageFit = 'fill', maxPixels = MAX_INPUT_PIXELS): Promise<Buffer> {
  const sharp = require('sharp') as typeof import('sharp');
  const { channels: c, height: h, width: w } = shape;
  try {
    const img = sharp(file, { limitInputPixels: maxPixels }).rotate().removeAlpha();
    const { data, info } = await (c === 1 ? img.greyscale().toColourspace('b-w') : img.toColourspace('srgb'))
      .resize(w, h, { fit }).raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== c || info.width !== w || info.height !== h) {
      throw new Error(`decoded to ${info.channels}×${info.height}×${info.width}, not ${c}×${h}×${w}`);
    }
    return data;
  } catch (e) {
    throw new Error(`Cannot decode ${file} as an image: ${(e as Error).message}`);
  }
}

/** Decodes each file to `shape` (default CIFAR's 3×32×32, resized to fill it), CHW uint8. */
export async function decodeImages(files: string[], shape: ImageShape = CIFAR_SHAPE): Promise<Uint8Array> {
  const { channels: c, height: h, width: w } = shape;
  const plane = h * w;
  const out = new Uint8Array(files.length * c * plane);
  for (let i = 0; i < files.length; i++) {
    const hwc = await decodeImage(files[i], shape);
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
