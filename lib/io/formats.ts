// The formats a model is written in, and which one a file name means.
import type { WeightsFormat } from '../base/native';
import * as v from '../base/validate';

/** The formats save writes: the weights formats, and ONNX. */
export type SaveFormat = WeightsFormat | 'onnx';

export const WEIGHTS_FORMATS = ['checkpoint', 'safetensors', 'state-dict', 'akamaster'] as const;
export const SAVE_FORMATS = [...WEIGHTS_FORMATS, 'onnx'] as const;

/** Extensions of formats this package cannot write: a path ending so is refused, never written as a checkpoint. */
const FOREIGN_EXTENSIONS: Readonly<Record<string, string>> = {
  pt2: 'torch.export (.pt2)', tflite: 'TensorFlow Lite', pb: 'TensorFlow', h5: 'Keras', keras: 'Keras',
  npz: 'NumPy', npy: 'NumPy', json: 'JSON',
};

/**
 * The format a path is written in unless told: safetensors for *.safetensors, ONNX for *.onnx, else our checkpoint;
 * a path naming a format this package does not write (x.pt2, x.tflite, …) is an error rather than a checkpoint
 * under that name.
 */
export function formatOf(path: string, format?: unknown): SaveFormat {
  if (format !== undefined) return v.oneOf('format', format, SAVE_FORMATS);
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  if (ext !== undefined && Object.hasOwn(FOREIGN_EXTENSIONS, ext)) {
    throw new RangeError(`Cannot write ${FOREIGN_EXTENSIONS[ext]} to '${path}': formats are ${SAVE_FORMATS.join(', ')} ` +
      `(*.safetensors is safetensors, *.onnx ONNX, any other name our checkpoint; pass format to choose)`);
  }
  if (ext === 'onnx') return 'onnx';
  return ext === 'safetensors' ? 'safetensors' : 'checkpoint';
}
