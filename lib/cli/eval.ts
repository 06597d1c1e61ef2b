// resnet-cifar eval: test error, per-class errors and the confusion matrix on the 10,000 test images.
import { loadSplit } from '../data/sources';
import { EVAL_BATCH_SIZE } from '../base/recipe';
import { DATA, dataArg, int, parse, precisionArg, str } from './args';
import { help } from './help';
import { MODEL_OPTS, loadModel } from './model-source';
import { out, printEvaluation } from './output';

export async function cmdEval(argv: string[]): Promise<number> {
  const { values } = parse('eval', argv, { ...DATA, ...MODEL_OPTS, 'batch-size': { type: 'string' } });
  if (values.help) return help('eval');
  const loaded = await loadModel(values, 'eval');
  try {
    const data = await dataArg(values, values.json === true);
    // An image folder is decoded at the network's input (its channels, its per-pixel mean's size).
    const test = await loadSplit(data, 'test', { size: loaded.shape.height, grayscale: loaded.shape.channels === 1 });
    const r = await loaded.evaluate(test, int('batch-size', str(values, 'batch-size'), EVAL_BATCH_SIZE, 1),
      precisionArg(str(values, 'precision')));
    if (values.json) out(JSON.stringify({ model: loaded.name, ...r }));
    else printEvaluation(r, test.classes, loaded.name);
    return 0;
  } finally {
    loaded.dispose();
  }
}
