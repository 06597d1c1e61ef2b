// PNG/JPEG (anything sharp decodes) -> 32x32 RGB, CHW uint8, and normalization for predict.
import { IMAGE_SIZE, toNative, type Normalization } from '../base/normalization';

/** Decodes each file to 32×32 RGB (resized with sharp's default Lanczos filter where needed), CHW uint8. */
export async function decodeImages(files: string[]): Promise<Uint8Array> {
  const sharp = require('sharp') as typeof import('sharp');
  const out = new Uint8Array(files.length * IMAGE_SIZE);
  for (let i = 0; i < files.length; i++) {
    let hwc: Buffer;
    try {
      hwc = await sharp(files[i]).removeAlpha().toColourspace('srgb').resize(32, 32, { fit: 'fill' }).raw().toBuffer();
    } catch (e) {
      throw new Error(`Cannot decode ${files[i]} as an image: ${(e as Error).message}`);
    }
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) out[i * IMAGE_SIZE + c * 1024 + p] = hwc[p * 3 + c];
    }
  }
  return out;
}

/**
 * uint8 CHW images -> (pixels / 255 - mean) / std, NCHW float32: the TypeScript definition of the formula
 * (native/core/data/normalization.h holds the C++ one), for images that do not come from a Cifar10 dataset.
 */
export function normalizeImages(pixels: Uint8Array, normalization: Normalization): Float32Array {
  const { mean, std } = toNative(normalization);
  const out = new Float32Array(pixels.length);
  const perPixel = mean.length === IMAGE_SIZE;
  for (let i = 0; i < pixels.length; i++) {
    const j = i % IMAGE_SIZE;
    const c = Math.floor(j / 1024);
    out[i] = (pixels[i] / 255 - (perPixel ? mean[j] : mean[c])) / std[c];
  }
  return out;
}
