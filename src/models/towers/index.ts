// The image and text towers beyond CLIP's ViT and transformer: each builds one graph from its config, the
// checkpoint's weights and the key prefix, with the graph interface of `buildVisionGraph` / `buildTextGraph`.
export { buildModifiedResNet, inferModifiedResNetConfig, modifiedResNetCells, modifiedResNetFromOpenClip, type ModifiedResNetConfig } from './modified-resnet.ts';
export { buildTorchvisionResNet, inferResNetTrunk, torchvisionResNetCells, type ResNetHead, type TorchvisionResNetConfig } from './torchvision-resnet.ts';
export { buildSwin, swinCells, swinConfigFromHf, type SwinConfig } from './swin.ts';
export {
  buildConchText, buildConchVision, buildOpenClipCocaVision, conchConfigs, openClipCocaTextConfig, openClipCocaVisionConfig,
  type ConchTextConfig, type ConchVisionConfig, type OpenClipCocaVisionConfig,
} from './coca.ts';
export { buildCxrBertText, cxrBertConfig, type CxrBertConfig } from './cxr-bert.ts';
export { buildMedclipText, type MedclipTextConfig } from './medclip-text.ts';
