// The image and text towers beyond CLIP's ViT and transformer: each builds one graph from its config, the
// checkpoint's weights and the key prefix, with the graph interface of `buildVisionGraph` / `buildTextGraph`.
export { buildModifiedResNet, inferModifiedResNetConfig, type ModifiedResNetConfig } from './modified-resnet.ts';
export { buildTorchvisionResNet, inferResNetTrunk, type ResNetHead, type TorchvisionResNetConfig } from './torchvision-resnet.ts';
export { buildSwin, swinConfigFromHf, type SwinConfig } from './swin.ts';
