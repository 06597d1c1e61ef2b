#!/usr/bin/env node
// The resnet-cifar CLI. In a checkout (lib/cli.ts and tsx present) it runs the TypeScript source, so it is never
// stale; an installed package, which ships dist/ and no lib/, runs the compiled dist/cli.js.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
let cli;
let tsx = false;
try {
  tsx = fs.existsSync(path.join(root, 'lib', 'cli.ts')) && Boolean(require.resolve('tsx/cjs'));
} catch {
  tsx = false;
}
if (tsx) {
  require('tsx/cjs');
  cli = require(path.join(root, 'lib', 'cli.ts'));
} else {
  cli = require(path.join(root, 'dist', 'cli.js'));
}
cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
