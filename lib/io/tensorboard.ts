// TensorBoard event files: `tensorboard --logdir runs` shows every run's curves beside our own SVG/PNG charts.
//
// A file is a sequence of records, each: uint64 length (little-endian), uint32 masked CRC-32C of those 8 bytes, the
// bytes of one tensorboard.Event protobuf, uint32 masked CRC-32C of them. The Event is encoded by protobufjs from
// proto/tensorboard.proto (TensorBoard's own messages and field numbers); CRC-32C comes from the crc-32 package.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

const crc32c = require('crc-32/crc32c') as { buf(data: Uint8Array, seed?: number): number };

const PROTO = path.join(__dirname, '..', '..', 'proto', 'tensorboard.proto');
const FILE_VERSION = 'brain.Event:2';
const WRITER = 'resnet-cifar';

let eventType: protobuf.Type | undefined;
function Event(): protobuf.Type {
  eventType ??= protobuf.loadSync(PROTO).lookupType('tensorboard.Event');
  return eventType;
}

/** TensorFlow's record checksum: CRC-32C, rotated right by 15 bits, plus a constant (all mod 2^32). */
function maskedCrc(data: Uint8Array): number {
  const crc = crc32c.buf(data) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One record of an event file around the encoded event. */
export function eventRecord(event: Uint8Array): Buffer {
  const header = Buffer.alloc(12);
  header.writeBigUInt64LE(BigInt(event.length), 0);
  header.writeUInt32LE(maskedCrc(header.subarray(0, 8)), 8);
  const footer = Buffer.alloc(4);
  footer.writeUInt32LE(maskedCrc(event), 0);
  return Buffer.concat([header, event, footer]);
}

let fileCount = 0;

/**
 * Appends TensorBoard events to a new events.out.tfevents.* file in `dir` (TensorBoard reads every such file of a
 * folder as one run). Each event is written when it is logged, so a run killed midway keeps what it reported.
 */
export class TensorBoardWriter {
  readonly file: string;
  #fd: number | undefined;

  constructor(dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    const name = `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${os.hostname()}.${process.pid}.${fileCount++}`;
    this.file = path.join(dir, name);
    this.#fd = fs.openSync(this.file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_APPEND, 0o644);
    this.#write({ fileVersion: FILE_VERSION, sourceMetadata: { writer: WRITER } }, 0);
  }

  /** Scalars at one step, e.g. { 'loss/train': 0.5, lr: 0.1 }. Non-finite values are written as they are. */
  scalars(step: number, values: Readonly<Record<string, number>>, wallTime?: number): void {
    const value = Object.entries(values).map(([tag, simpleValue]) => ({ tag, simpleValue }));
    if (value.length > 0) this.#write({ summary: { value } }, step, wallTime);
  }

  /** Text (Markdown) under `tag`, shown by TensorBoard's Text tab. */
  text(step: number, tag: string, markdown: string): void {
    this.#write({
      summary: {
        value: [{
          tag,
          metadata: { pluginData: { pluginName: 'text', content: new Uint8Array(0) }, dataClass: 2 /* DATA_CLASS_TENSOR */ },
          tensor: { dtype: 7 /* DT_STRING */, tensorShape: { dim: [{ size: 1 }] }, stringVal: [Buffer.from(markdown, 'utf8')] },
        }],
      },
    }, step);
  }

  /**
   * Marks a (re)start at `step`: TensorBoard drops what earlier files of this run logged at this step or later, so
   * a run resumed from its checkpoint shows each step once.
   */
  start(step: number): void {
    this.#write({ sessionLog: { status: 1 /* START */ } }, step);
  }

  close(): void {
    if (this.#fd === undefined) return;
    fs.closeSync(this.#fd);
    this.#fd = undefined;
  }

  #write(fields: Record<string, unknown>, step: number, wallTime = Date.now() / 1000): void {
    if (this.#fd === undefined) throw new Error(`TensorBoard writer for ${this.file} is closed`);
    const E = Event();
    const bytes = E.encode(E.fromObject({ wallTime, step, ...fields })).finish();
    fs.writeSync(this.#fd, eventRecord(bytes));
  }
}
