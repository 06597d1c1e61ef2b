// Training runs in folders: the one writer of run folders (the CLI's train and reproduce, the GPU driver), and their
// records read back.
export { runTrainerOptions, type RunConfig, type RunTrainerOptions } from './config';
export { RunError } from './folder';
export { curvePoints, readFinal, readMetrics, runTime, type RunFinal, type RunStart, type RunTime } from './records';
export { loadFrom, trainRun, type RunOptions, type RunResult } from './train-run';
