export { ResNet, IMAGE_SIZE, PAPER_DEPTHS } from './resnet';
export type { ResNetOptions, ResNetConfig, LoadOptions, SaveOptions, Shortcut, DeviceSpec } from './resnet';
export { info, setNumThreads } from './info';
export type { Info } from './info';
export type { MetaValue } from './native';
