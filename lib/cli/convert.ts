// resnet-cifar convert: weights from one format to another (ours, safetensors, the seed's or akamaster's layout, ONNX).
import * as fs from 'node:fs';
import { formatOf } from '../io/formats';
import { ResNet } from '../model/resnet';
import { UsageError, normalizeArg, parse, shortcutArg, str } from './args';
import { help } from './help';
import { out } from './output';

export async function cmdConvert(argv: string[]): Promise<number> {
  const { values, positionals } = parse('convert', argv,
    { to: { type: 'string' }, shortcut: { type: 'string' }, input: { type: 'string' }, normalize: { type: 'string' } }, true);
  if (values.help) return help('convert');
  if (positionals.length !== 2) throw new UsageError('convert needs IN and OUT');
  const [input, output] = positionals;
  if (!fs.existsSync(input)) throw new UsageError(`${input} does not exist`);
  let format: ReturnType<typeof formatOf>;
  try {
    format = formatOf(output, values.to);
  } catch (e) {
    throw new UsageError(values.to === undefined ? (e as Error).message : `--to: ${(e as Error).message}`);
  }
  const shortcut = values.shortcut === undefined ? undefined : shortcutArg(str(values, 'shortcut'));
  if (format !== 'onnx' && (values.input !== undefined || values.normalize !== undefined)) {
    throw new UsageError('--input and --normalize are ONNX options (--to onnx, or OUT ending in .onnx)');
  }
  const onnxInput = str(values, 'input');
  if (onnxInput !== undefined && onnxInput !== 'normalized' && onnxInput !== 'pixels') {
    throw new UsageError(`--input must be normalized or pixels, got '${onnxInput}'`);
  }
  const normalization = normalizeArg(values);
  const m = await ResNet.load(input, { device: 'cpu', shortcut });
  try {
    await m.save(output, format === 'onnx' ? { format, input: onnxInput, normalization } : { format });
    const imported = (m.meta.imported as { layout?: string } | undefined)?.layout;
    const what = `ResNet-${m.config.depth} (${m.config.shortcut}, ${m.config.numClasses} classes)`;
    if (values.json) out(JSON.stringify({ input, output, format, from: imported ?? 'resnet-cifar', config: m.config }));
    else out(`${input} (${imported ? `${imported} layout` : 'resnet-cifar'}) -> ${output} (${format}): ${what}`);
    return 0;
  } finally {
    m.dispose();
  }
}
