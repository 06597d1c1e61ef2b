// resnet-cifar predict: the class and probability of each PNG/JPEG image.
import * as fs from 'node:fs';
import { rankedClasses } from '../model/evaluation';
import { decodeImages, normalizeImages } from '../data/images';
import { UsageError, int, parse, precisionArg, str } from './args';
import { help } from './help';
import { MODEL_OPTS, loadModel } from './model-source';
import { out } from './output';

export async function cmdPredict(argv: string[]): Promise<number> {
  const { values, positionals } = parse('predict', argv, { ...MODEL_OPTS, top: { type: 'string' } }, true);
  if (values.help) return help('predict');
  if (positionals.length === 0) throw new UsageError('predict needs at least one image file (PNG or JPEG)');
  for (const f of positionals) if (!fs.existsSync(f)) throw new UsageError(`${f} does not exist`);
  const top = int('top', str(values, 'top'), 1, 1);
  const loaded = await loadModel(values, 'predict');
  try {
    const pixels = await decodeImages(positionals, loaded.shape);
    const logits = await loaded.predict(normalizeImages(pixels, loaded.norm, loaded.shape), positionals.length,
      precisionArg(str(values, 'precision')));
    const k = logits.length / positionals.length;
    const results = positionals.map((file, i) => ({ file, predictions: rankedClasses(logits.subarray(i * k, (i + 1) * k), loaded.classNames, top) }));
    if (values.json) out(JSON.stringify(results));
    else for (const r of results) out(`${r.file}: ${r.predictions.map((p) => `${p.class} ${(100 * p.probability).toFixed(1)} %`).join(', ')}`);
    return 0;
  } finally {
    loaded.dispose();
  }
}
