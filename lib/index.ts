export { ResNet, IMAGE_SIZE, PAPER_DEPTHS, CIFAR10_CHANNEL_NORMALIZATION } from './resnet';
export { Cifar10, CIFAR10_FILE_BYTES, CIFAR10_RECORD_BYTES } from './cifar10';
export type { Cifar10LoadOptions, Split } from './cifar10';
export type { ResNetOptions, ResNetConfig, LoadOptions, SaveOptions, Shortcut, DeviceSpec, Normalization, EvaluateOptions, Evaluation } from './resnet';
export { info, setNumThreads } from './info';
export type { Info } from './info';
export type { MetaValue } from './native';
export { Trainer } from './trainer';
export type { TrainerOptions, WarmupOptions, FitOptions, CheckpointOptions, FitProgress, TrainProgress, EvalProgress, CheckpointProgress, History, TrainPoint, EvalPoint } from './trainer';
