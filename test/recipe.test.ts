// One owner per default: the recipe in lib/base/recipe.ts is what the Trainer, the CLI and native/core's headers say.
// (The addon receives every value from lib/ as an argument; its headers' defaults serve the C++ tests and must
// not drift from it.)
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DISTRIBUTED, EVAL_BATCH_SIZE, RECIPE, REPORT_EVERY, milestonesFor } from '../lib/base/recipe';
import { ResNet, Trainer } from '../lib/index';

const core = path.join(__dirname, '..', 'native', 'core');

/** The default a header gives a member: `type name = value;` or `type name{values};`. */
function headerDefault(header: string, member: string): string {
  const text = fs.readFileSync(path.join(core, header), 'utf8');
  const m = new RegExp(`\\b${member}\\s*(?:=\\s*([^;]+);|\\{([^}]*)\\};)`).exec(text);
  if (!m) throw new Error(`no default for ${member} in native/core/${header}`);
  return (m[1] ?? m[2]).trim();
}
const num = (s: string) => Number(s.replace(/^"|"$/g, ''));

test('native/core headers give the recipe lib/base/recipe.ts owns', (t) => {
  t.is(num(headerDefault('train/fit.h', 'iterations')), RECIPE.iterations);
  t.is(num(headerDefault('train/fit.h', 'eval_batch')), EVAL_BATCH_SIZE);
  t.is(num(headerDefault('train/fit.h', 'report_every')), REPORT_EVERY);
  t.is(num(headerDefault('data/batches.h', 'batch')), RECIPE.batchSize);
  t.is(num(headerDefault('data/batches.h', 'seed')), RECIPE.seed);
  t.is(num(headerDefault('data/batches.h', 'pad')), RECIPE.augment.padCrop);
  t.is(headerDefault('data/batches.h', 'flip'), String(RECIPE.augment.flip));
  t.is(num(headerDefault('train/sgd.h', 'momentum')), RECIPE.momentum);
  t.is(num(headerDefault('train/sgd.h', 'weight_decay')), RECIPE.weightDecay);
  t.is(num(headerDefault('train/lr_schedule.h', 'lr')), RECIPE.lr);
  t.is(num(headerDefault('train/lr_schedule.h', 'gamma')), RECIPE.gamma);
  t.deepEqual(headerDefault('train/lr_schedule.h', 'milestones').split(',').map(num), [...RECIPE.milestones]);
  t.is(headerDefault('train/distributed.h', 'master_addr'), JSON.stringify(DISTRIBUTED.masterAddr));
  t.is(num(headerDefault('train/distributed.h', 'master_port')), DISTRIBUTED.masterPort);
  t.is(num(headerDefault('train/distributed.h', 'timeout_ms')), DISTRIBUTED.timeoutMs);
});

test('the Trainer defaults to the recipe, and scaled milestones keep the paper\'s for 64k', (t) => {
  const m = new ResNet({ depth: 8, device: 'cpu' });
  try {
    const o = new Trainer(m).options;
    t.is(o.iterations, RECIPE.iterations);
    t.deepEqual(o.milestones, [...RECIPE.milestones]);
    t.is(o.lr, RECIPE.lr);
    t.is(o.momentum, RECIPE.momentum);
    t.is(o.weightDecay, RECIPE.weightDecay);
    t.is(o.batchSize, RECIPE.batchSize);
    t.is(o.normalization, RECIPE.normalization);
    t.deepEqual(milestonesFor(RECIPE.iterations), [...RECIPE.milestones]);
    t.deepEqual(milestonesFor(1000), [500, 750]);
  } finally {
    m.dispose();
  }
});
