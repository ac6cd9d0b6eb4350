// The towers of the survey's remaining models, registered by kind (the contract is in registry.ts; builtin.ts
// calls registerSurveyTowers once, after its own):
//
// | kind                      | modality | reference implementation                                  | keys under prefix |
// |---------------------------|----------|-----------------------------------------------------------|-------------------|
// | open_clip-modified-resnet | vision   | open_clip ModifiedResNet (OpenAI RN50/RN101/RN50x4 CLIP)   | conv1..3, bn1..3, layerN.M.*, attnpool.* |
// | torchvision-resnet        | vision   | torchvision ResNet + head (BioViL's hi-ml ImageModel)      | {trunk}conv1, {trunk}layerN.M.*, {head}* |
// | hf-swin                   | vision   | transformers SwinModel + Linear head (MedCLIP)             | {trunk}embeddings.*, {trunk}encoder.layers.N.*, {head} |
import { buildModifiedResNet, modifiedResNetCells, modifiedResNetFromOpenClip, type ModifiedResNetConfig } from './modified-resnet.ts';
import { registerTower } from './registry.ts';
import { buildSwin, swinCells, type SwinConfig } from './swin.ts';
import { buildTorchvisionResNet, torchvisionResNetCells, type TorchvisionResNetConfig } from './torchvision-resnet.ts';

export function registerSurveyTowers(): void {
  registerTower<ModifiedResNetConfig>({
    kind: 'open_clip-modified-resnet',
    modality: 'vision',
    build: buildModifiedResNet,
    patchTokens: modifiedResNetCells,
    openClip: {
      matches: (v) => Array.isArray(v.layers) && !v.timm_model_name,
      config: (v, ctx) => modifiedResNetFromOpenClip(v, ctx.embedDim, ctx.file),
    },
  });
  registerTower<TorchvisionResNetConfig>({ kind: 'torchvision-resnet', modality: 'vision', build: buildTorchvisionResNet, patchTokens: torchvisionResNetCells });
  registerTower<SwinConfig>({ kind: 'hf-swin', modality: 'vision', build: buildSwin, patchTokens: swinCells });
}

