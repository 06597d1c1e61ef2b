// The public API as API Extractor reads it from dist/index.d.ts: docs/api-report/resnet-cifar.api.md is checked in,
// and npm test fails when the API differs from it (update it with `npm run api-report`), when an export has no doc
// comment, or when a public signature names a type the package does not export.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './helpers';

interface Message { category: string; messageId: string; text: string; sourceFilePath?: string }
const { Extractor, ExtractorConfig } = require('@microsoft/api-extractor') as {
  Extractor: { invoke(c: unknown, o: object): { succeeded: boolean; apiReportChanged: boolean; errorCount: number } };
  ExtractorConfig: { loadFileAndPrepare(file: string): unknown; prepare(o: object): unknown };
};

function run(config: unknown) {
  const messages: Message[] = [];
  const r = Extractor.invoke(config, {
    localBuild: false,
    messageCallback: (m: Message & { handled: boolean; logLevel: string }) => {
      if (m.logLevel === 'error' || m.logLevel === 'warning') messages.push(m);
      m.handled = true;
    },
  });
  return { ...r, messages };
}

test.serial('the public API matches docs/api-report/resnet-cifar.api.md; every export is documented and every type it names exported', (t) => {
  t.true(fs.existsSync(path.join(ROOT, 'dist/index.d.ts')), 'run `npm run build` (npm test does) first');
  const r = run(ExtractorConfig.loadFileAndPrepare(path.join(ROOT, 'scripts/api/api-extractor.json')));
  t.deepEqual(r.messages.map((m) => `${m.messageId}: ${m.text}`), []);
  t.false(r.apiReportChanged, 'the API changed: run `npm run api-report` and check in docs/api-report/resnet-cifar.api.md');
  t.true(r.succeeded);
  const d = fs.readFileSync(path.join(ROOT, 'dist/model/resnet.d.ts'), 'utf8');
  t.false(/nativeModel/.test(d), '@internal members are stripped from the typings');
});

test.serial('API Extractor fails on an undocumented export and on a public type that is not exported', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resnet-cifar-api-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'probe', version: '1.0.0' }));
  fs.writeFileSync(path.join(dir, 'hidden.d.ts'), 'export interface Hidden { x: number }\n');
  fs.writeFileSync(path.join(dir, 'index.d.ts'), "import type { Hidden } from './hidden';\n" +
    '/** Documented. */\nexport declare function documented(h: Hidden): void;\nexport declare function bare(): void;\n');
  const base = JSON.parse(fs.readFileSync(path.join(ROOT, 'scripts/api/api-extractor.json'), 'utf8'));
  const configObject = {
    ...base, $schema: undefined, projectFolder: dir, mainEntryPointFilePath: path.join(dir, 'index.d.ts'),
    compiler: { overrideTsconfig: { compilerOptions: { strict: true }, files: [path.join(dir, 'index.d.ts')] } },
    apiReport: { ...base.apiReport, reportFolder: dir, reportTempFolder: dir },
  };
  const r = run(ExtractorConfig.prepare({ configObject, configObjectFullPath: path.join(dir, 'api-extractor.json'),
    packageJsonFullPath: path.join(dir, 'package.json') }));
  fs.rmSync(dir, { recursive: true, force: true });
  const ids = r.messages.map((m) => `${m.messageId}: ${m.text}`);
  t.false(r.succeeded);
  t.true(ids.some((m) => /^ae-undocumented: Missing documentation for "bare"/.test(m)), ids.join('\n'));
  t.true(ids.some((m) => /^ae-forgotten-export: The symbol "Hidden"/.test(m)), ids.join('\n'));
});
