#!/usr/bin/env node
// The ten slowest tests of ava logs (the default reporter's "✔ file › title (1m 2.3s)" lines), slowest first.
//   node scripts/ci/slowest.js LOG… [--top N]
// Durations are each test's own wall time; tests of one file run concurrently, so they overlap.
'use strict';
const fs = require('node:fs');

const args = process.argv.slice(2);
const at = args.indexOf('--top');
const top = at >= 0 ? Number(args.splice(at, 2)[1]) : 10;

/** ava's prettyMs text ("350ms", "11.5s", "1m 3.2s", "1h 2m 3s") in seconds; NaN when it is none. */
function seconds(text) {
  const units = { h: 3600, m: 60, s: 1, ms: 0.001 };
  const parts = [...text.matchAll(/([\d.]+)(ms|h|m|s)\b/g)];
  return parts.length ? parts.reduce((sum, [, n, u]) => sum + Number(n) * units[u], 0) : NaN;
}

const rows = [];
for (const file of args.filter((f) => fs.existsSync(f))) {
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*(?:\d+\s+)?(✔|✘)\s+(?:\[\w+\]\s+)?(.*?)\s+\(((?:[\d.]+(?:ms|h|m|s)\s?)+)\)\s*$/.exec(line);
    if (m) rows.push({ s: seconds(m[3]), mark: m[1], title: m[2] });
  }
}
rows.sort((a, b) => b.s - a.s);
console.log(`The ${Math.min(top, rows.length)} slowest of ${rows.length} timed tests:`);
for (const r of rows.slice(0, top)) console.log(`${r.s.toFixed(1).padStart(7)} s  ${r.mark} ${r.title}`);
