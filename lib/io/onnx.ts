// ONNX export: the network as an ONNX graph (opset 17) that ONNX Runtime (onnxruntime-node, onnxruntime-web) and any
// other ONNX consumer runs. libtorch has no ONNX exporter, but these networks are a fixed, known graph, so it is
// written here exactly, encoded by protobufjs from proto/onnx.proto (ONNX's own messages and field numbers).
//
// Graph: Conv → BatchNormalization → Relu, then per block Conv-BN-Relu-Conv-BN, the shortcut (identity; option A:
// Slice with step 2 and Pad with zero channels at the end; option B: 1×1 Conv + BN; plain: none), Add, Relu;
// GlobalAveragePool → Flatten → Gemm. BatchNormalization is kept as eval-mode nodes with the running statistics
// (ONNX Runtime folds them into the convolutions when it optimizes the graph).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { writeAtomic } from '../base/files';
import type { MetaValue } from '../base/native';
import type { NativeNormalization } from '../base/native';
import { pixelShapeOf } from '../base/normalization';

const PROTO = path.join(__dirname, '..', '..', 'proto', 'onnx.proto');
export const ONNX_OPSET = 17;
const IR_VERSION = 8; // ONNX 1.10+: opset 17 needs IR 8
const BN_EPSILON = 1e-5; // libtorch's BatchNorm2d default, which the networks use
const FLOAT = 1;
const INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, INTS: 7 } as const;

/** What the exported graph takes: normalized images (as predict does), or RGB pixels in [0, 1] normalized inside. */
export type OnnxInput = 'normalized' | 'pixels';

export interface OnnxExportSource {
  config: { depth: number; shortcut: 'A' | 'B' | 'plain'; numClasses: number; inChannels: number };
  meta: Record<string, MetaValue>;
  classNames: readonly string[];
  /** Writes the model's weights as our checkpoint (read back here for its tensors). */
  /** Every parameter and buffer, float32, by state-dict name. */
  stateDict(): Promise<Record<string, Float32Array>>;
}

export interface OnnxExportOptions {
  input: OnnxInput;
  /** The normalization applied inside the graph for input 'pixels' (and recorded in the metadata), checked. */
  normalization?: NativeNormalization;
  producerVersion: string;
}

let modelType: protobuf.Type | undefined;
function ModelProto(): protobuf.Type {
  modelType ??= protobuf.loadSync(PROTO).lookupType('onnx.ModelProto');
  return modelType;
}

interface Node { opType: string; input: string[]; output: string[]; name: string; attribute: object[] }
interface Initializer { name: string; dims: number[]; dataType: number; rawData: Uint8Array }

/** Builds the graph's nodes and initializers, naming each value after the layer that makes it. */
class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Initializer[] = [];
  constructor(private readonly weights: Record<string, Float32Array>) {}

  node(opType: string, input: string[], output: string, attribute: object[] = []): string {
    this.nodes.push({ opType, input, output: [output], name: output, attribute });
    return output;
  }

  float(name: string, dims: number[], data: Float32Array = this.weight(name, dims)): string {
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  int64(name: string, values: number[]): string {
    const data = BigInt64Array.from(values.map(BigInt));
    this.initializers.push({ name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  weight(name: string, dims: number[]): Float32Array {
    const w = this.weights[name];
    const n = dims.reduce((a, b) => a * b, 1);
    if (!w || w.length !== n) throw new Error(`internal: ${name} has ${w?.length ?? 'no'} values, expected ${n} (${dims.join('×')})`);
    return w;
  }

  conv(prefix: string, x: string, cin: number, cout: number, k: number, stride: number): string {
    const w = this.float(`${prefix}.weight`, [cout, cin, k, k]);
    const p = (k - 1) / 2;
    return this.node('Conv', [x, w], prefix, [ints('kernel_shape', [k, k]), ints('strides', [stride, stride]), ints('pads', [p, p, p, p])]);
  }

  bn(prefix: string, x: string, c: number): string {
    const inputs = ['weight', 'bias', 'running_mean', 'running_var'].map((s) => this.float(`${prefix}.${s}`, [c]));
    return this.node('BatchNormalization', [x, ...inputs], prefix, [float('epsilon', BN_EPSILON)]);
  }
}

const ints = (name: string, v: number[]) => ({ name, type: ATTR.INTS, ints: v });
const int = (name: string, i: number) => ({ name, type: ATTR.INT, i });
const float = (name: string, f: number) => ({ name, type: ATTR.FLOAT, f });

function tensorType(name: string, dims: (number | string)[]) {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

/**
 * The input's dims: the per-pixel mean's size where the model has one, CIFAR's 32×32 for a colour network, else a
 * size the caller chooses (the network pools globally).
 */
function inputDims(config: OnnxExportSource['config'], n: NativeNormalization | undefined): (number | string)[] {
  if (n?.kind === 'pixel') return ['batch', ...pixelShapeOf(n)!];
  return config.inChannels === 3 ? ['batch', 3, 32, 32] : ['batch', config.inChannels, 'height', 'width'];
}

/** Normalization inside the graph: (x - mean) / std, with x the pixels in [0, 1]. */
function normalize(g: GraphBuilder, x: string, n: NativeNormalization): string {
  const c = n.std.length;
  if (n.kind === 'pixel') {
    const [, h, w] = pixelShapeOf(n)!;
    return g.node('Sub', [x, g.float('normalization.mean', [1, c, h, w], Float32Array.from(n.mean))], 'normalized');
  }
  const centred = g.node('Sub', [x, g.float('normalization.mean', [1, c, 1, 1], Float32Array.from(n.mean))], 'centred');
  return g.node('Div', [centred, g.float('normalization.std', [1, c, 1, 1], Float32Array.from(n.std))], 'normalized');
}

function block(g: GraphBuilder, name: string, x: string, cin: number, cout: number, stride: number, shortcut: 'A' | 'B' | 'plain'): string {
  const h = g.node('Relu', [g.bn(`${name}.bn1`, g.conv(`${name}.conv1`, x, cin, cout, 3, stride), cout)], `${name}.relu1`);
  const z = g.bn(`${name}.bn2`, g.conv(`${name}.conv2`, h, cout, cout, 3, 1), cout);
  if (shortcut === 'plain') return g.node('Relu', [z], `${name}.relu2`);
  let s = x;
  if (stride !== 1 || cin !== cout) {
    if (shortcut === 'B') {
      s = g.bn(`${name}.shortcut.1`, g.conv(`${name}.shortcut.0`, x, cin, cout, 1, stride), cout);
    } else {
      // x[:, :, ::stride, ::stride], then cout - cin zero channels after x's own.
      const big = Number.MAX_SAFE_INTEGER;
      const sub = g.node('Slice', [x, g.int64(`${name}.subsample.starts`, [0, 0]), g.int64(`${name}.subsample.ends`, [big, big]),
        g.int64(`${name}.subsample.axes`, [2, 3]), g.int64(`${name}.subsample.steps`, [stride, stride])], `${name}.subsample`);
      s = g.node('Pad', [sub, g.int64(`${name}.pad.pads`, [0, 0, 0, 0, 0, cout - cin, 0, 0])], `${name}.pad`, []);
    }
  }
  return g.node('Relu', [g.node('Add', [z, s], `${name}.add`)], `${name}.relu2`);
}

/** The exported ModelProto's bytes. */
export function onnxBytes(config: OnnxExportSource['config'], weights: Record<string, Float32Array>,
  metadata: Record<string, string>, options: OnnxExportOptions): Uint8Array {
  const g = new GraphBuilder(weights);
  const inputName = options.input === 'pixels' ? 'pixels' : 'input';
  let x = inputName;
  if (options.input === 'pixels') {
    if (!options.normalization) throw new Error('internal: pixels input without a normalization');
    x = normalize(g, x, options.normalization);
  }
  x = g.node('Relu', [g.bn('bn', g.conv('conv', x, config.inChannels, 16, 3, 1), 16)], 'relu');
  const n = (config.depth - 2) / 6;
  const stages = [[16, 16, 1], [16, 32, 2], [32, 64, 2]];
  stages.forEach(([cin, cout, stride], s) => {
    for (let i = 0; i < n; i++) x = block(g, `block${s + 1}.${i}`, x, i === 0 ? cin : cout, cout, i === 0 ? stride : 1, config.shortcut);
  });
  x = g.node('Flatten', [g.node('GlobalAveragePool', [x], 'pool')], 'flatten', [int('axis', 1)]);
  g.node('Gemm', [x, g.float('fc.weight', [config.numClasses, 64]), g.float('fc.bias', [config.numClasses])], 'logits', [int('transB', 1)]);
  const M = ModelProto();
  const model = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'resnet-cifar',
    producerVersion: options.producerVersion,
    docString: `ResNet-${config.depth} (shortcut ${config.shortcut}, ${config.inChannels === 1 ? 'grey' : 'colour'} input), He et al., CVPR 2016`,
    graph: {
      name: `resnet${config.depth}`,
      node: g.nodes,
      initializer: g.initializers,
      input: [tensorType(inputName, inputDims(config, options.normalization))],
      output: [tensorType('logits', ['batch', config.numClasses])],
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  };
  const err = M.verify(model);
  if (err) throw new Error(`internal: ONNX model does not match proto/onnx.proto: ${err}`);
  return M.encode(M.fromObject(model)).finish();
}

/** metadata_props: what a consumer needs to use the file (all values are strings, JSON where structured). */
function metadataOf(src: OnnxExportSource, o: OnnxExportOptions): Record<string, string> {
  const m: Record<string, string> = {
    depth: String(src.config.depth),
    shortcut: src.config.shortcut,
    num_classes: String(src.config.numClasses),
    in_channels: String(src.config.inChannels),
    class_names: JSON.stringify(src.classNames),
    input: o.input === 'pixels'
      ? 'pixels: NCHW float32 RGB in [0, 1] (bytes / 255); normalized inside the graph'
      : 'input: NCHW float32, normalized as `normalization` says ((pixels / 255 - mean) / std)',
    output: 'logits: float32 [batch, num_classes]',
  };
  if (o.normalization) {
    const n = o.normalization;
    m.normalization = JSON.stringify(n.kind === 'pixel' ? { kind: 'pixel', mean: Array.from(n.mean), shape: pixelShapeOf(n)! }
      : { kind: 'channel', mean: Array.from(n.mean), std: Array.from(n.std) });
  }
  const pretrained = src.meta.pretrained as { testError?: unknown } | undefined;
  const testError = typeof pretrained?.testError === 'number' ? pretrained.testError : src.meta.testError;
  if (typeof testError === 'number') m.test_error = String(testError);
  return m;
}

/** An ONNX file's metadata_props (ours or any other producer's), as key → value. */
export function readOnnxMetadata(file: string): Record<string, string> {
  const m = ModelProto().decode(fs.readFileSync(file)) as unknown as { metadataProps?: { key?: string; value?: string }[] };
  return Object.fromEntries((m.metadataProps ?? []).filter((p) => p.key).map((p) => [p.key!, p.value ?? '']));
}

/** Writes `src` as ONNX to `file`, atomically. */
export async function exportOnnx(src: OnnxExportSource, file: string, options: OnnxExportOptions): Promise<void> {
  const stateDict = await src.stateDict();
  writeAtomic(file, Buffer.from(onnxBytes(src.config, stateDict, metadataOf(src, options), options)));
}
