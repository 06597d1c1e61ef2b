#!/usr/bin/env node
// The resnet-cifar CLI. In a checkout (lib/cli/ present, and tsx installed) it runs the TypeScript source, so it is
// never stale; an installed package, which ships dist/ and no lib/, runs the compiled dist/cli/.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
let cli;
let tsx = false;
try {
  tsx = fs.existsSync(path.join(root, 'lib', 'cli', 'index.ts')) && Boolean(require.resolve('tsx/cjs'));
} catch {
  tsx = false;
}
if (tsx) {
  require('tsx/cjs');
  cli = require(path.join(root, 'lib', 'cli', 'index.ts'));
} else {
  cli = require(path.join(root, 'dist', 'cli', 'index.js'));
}
cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
