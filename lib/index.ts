export { ResNet, IMAGE_SIZE, CIFAR10_CHANNEL_NORMALIZATION } from './model/resnet';
export { PAPER_DEPTHS, PAPER_TEST_ERRORS } from './base/paper';
export { CHECKPOINT_FILE, readCheckpointMeta } from './io/checkpoint';
export type { CheckpointInfo } from './io/checkpoint';
export { Cifar10, CIFAR10_CLASSES, CIFAR10_FILE_BYTES, CIFAR10_RECORD_BYTES } from './data/cifar10';
export type { Cifar10LoadOptions, Split } from './data/cifar10';
export { ImageDataset, FASHION_MNIST_CLASSES, FASHION_MNIST_DEBIAN_DIR } from './data/image-dataset';
export type { DatasetSplit, FromArraysOptions, IdxOptions, MnistOptions, ImageShape } from './data/image-dataset';
export type { ResNetOptions, ResNetConfig, LoadOptions, SaveOptions, Shortcut, DeviceSpec, Normalization, EvaluateOptions, PredictOptions, Evaluation } from './model/resnet';
export type { Precision } from './base/precision';
export { info, setNumThreads } from './base/info';
export type { Info } from './base/info';
export type {
  Augmentation, CheckpointTrainerState, MetaValue, NormalizationValues, ResolvedDistributedOptions, ResolvedTrainerOptions, ResolvedWarmup,
} from './base/types';
export { Trainer } from './train/trainer';
export type { FitStop, TrainerOptions, WarmupOptions, FitOptions, CheckpointOptions, FitProgress, TrainProgress, EvalProgress, CheckpointProgress, History, TrainPoint, EvalPoint, TrainingBatch } from './train/trainer';
export { loadTorchScript, loadExported, ForeignModel, TorchScriptModel, ExportedModel } from './model/foreign';
export { Batcher, QueueFullError } from './model/batcher';
export type { BatcherOptions, BatcherStats, BatchPredictor } from './model/batcher';
export type { TorchScriptOptions, ExportedOptions, ForeignModelOptions } from './model/foreign';
export type { WeightsFormat } from './base/native';
export type { SaveFormat } from './io/formats';
export type { OnnxInput } from './io/onnx';
export type { DistributedOptions } from './train/fit-types';
export { pretrainedModels, PRETRAINED_DIR } from './model/pretrained';
export type { PretrainedInfo } from './model/pretrained';
export { CIFAR10_URL, CIFAR10_MD5, defaultCacheDir } from './base/download';
export type { DownloadOptions, DownloadProgress } from './base/download';
