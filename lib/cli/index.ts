// The resnet-cifar command line: info, train, eval, predict, convert, reproduce (one file each in this folder).
// User errors print one line (no stack) and exit non-zero; --json gives machine-readable output on stdout.
import { PACKAGE_VERSION } from '../base/info';
import { RunError } from '../run';
import { UsageError } from './args';
import { cmdConvert } from './convert';
import { cmdEval } from './eval';
import { help } from './help';
import { cmdInfo } from './info';
import { out } from './output';
import { cmdPredict } from './predict';
import { cmdReproduce } from './reproduce';
import { cmdTrain } from './train';

export { UsageError } from './args';

/** Every command, by name; each has a section in help.ts. */
export const COMMANDS: Readonly<Record<string, (argv: string[]) => Promise<number>>> = {
  info: cmdInfo, train: cmdTrain, eval: cmdEval, predict: cmdPredict, convert: cmdConvert, reproduce: cmdReproduce,
};

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') return help('main');
  if (cmd === '--version') {
    out(PACKAGE_VERSION);
    return 0;
  }
  const run = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  try {
    if (!run) throw new UsageError(`unknown command '${cmd}' (expected one of: ${Object.keys(COMMANDS).join(', ')})`);
    return await run(rest);
  } catch (e) {
    const err = e as Error;
    const usage = err instanceof UsageError;
    process.stderr.write(`resnet-cifar: ${err.message}${usage ? `\nRun 'resnet-cifar ${run ? cmd + ' ' : ''}--help' for usage.` : ''}\n`);
    if (process.env.RESNET_CIFAR_DEBUG && err.stack) process.stderr.write(err.stack + '\n');
    return usage || err instanceof RunError ? 2 : 1;
  }
}

// `resnet-cifar eval … | head`: a closed pipe ends the output quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
