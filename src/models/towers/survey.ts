// The towers of the survey's remaining models, registered by kind (the contract is in registry.ts; builtin.ts
// calls registerSurveyTowers once, after its own):
//
// | kind                      | modality | reference implementation                                  | keys under prefix |
// |---------------------------|----------|-----------------------------------------------------------|-------------------|
// | open_clip-modified-resnet | vision   | open_clip ModifiedResNet (OpenAI RN50/RN101/RN50x4 CLIP)   | conv1..3, bn1..3, layerN.M.*, attnpool.* |
// | torchvision-resnet        | vision   | torchvision ResNet + head: BioViL/BioViL-T (hi-ml), MedCLIP-ResNet (fc), GLoRIA | {trunk}conv1, {trunk}layerN.M.*, {head}* |
// | hf-swin                   | vision   | transformers SwinModel + Linear head (MedCLIP)             | {trunk}embeddings.*, {trunk}encoder.layers.N.*, {head} |
// | conch-vision              | vision   | CONCH VisualModel: timm ViT trunk + attentional poolers    | trunk.*, attn_pool_contrast.*, ln_contrast, proj_contrast, attn_pool_caption.*, ln_caption |
// | open_clip-coca-vision     | vision   | open_clip VisionTransformer with attentional_pool (CoCa)   | conv1, class_embedding, transformer.resblocks.N, attn_pool.*, ln_post, proj |
// | open_clip-coca-text       | text     | open_clip TextTransformer with embed_cls (CoCa; = conch-text) | token_embedding, cls_emb, transformer.resblocks.N, ln_final, text_projection |
// | cxr-bert                  | text     | hi-ml CXRBertModel (BioViL): BERT + cls_projection_head    | bert.*, cls_projection_head.* |
// | medclip-text              | text     | MedCLIPTextModel: BERT, mean of hidden states 1, 2, last   | model.*, projection_head |
// | gloria-text               | text     | GLoRIA BertEncoder: last 4 layers summed, subwords into words | model.* |
// | conch-text                | text     | CONCH TextTransformer with embed_cls                       | token_embedding, positional_embedding, cls_emb, transformer.resblocks.N, ln_final, text_projection |
import {
  buildConchText, buildConchVision, buildOpenClipCocaVision, openClipCocaTextConfig, openClipCocaVisionConfig,
  type ConchTextConfig, type ConchVisionConfig, type OpenClipCocaVisionConfig,
} from './coca.ts';
import { buildCxrBertText, type CxrBertConfig } from './cxr-bert.ts';
import { buildGloriaText, type GloriaTextConfig } from './gloria-text.ts';
import { buildMedclipText, type MedclipTextConfig } from './medclip-text.ts';
import { buildModifiedResNet, modifiedResNetCells, modifiedResNetFromOpenClip, type ModifiedResNetConfig } from './modified-resnet.ts';
import { registerTower } from './registry.ts';
import { buildSwin, swinCells, type SwinConfig } from './swin.ts';
import { buildTorchvisionResNet, buildTorchvisionResNetWithPrevious, torchvisionResNetCells, type TorchvisionResNetConfig } from './torchvision-resnet.ts';

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
  registerTower<TorchvisionResNetConfig>({
    kind: 'torchvision-resnet',
    modality: 'vision',
    build: buildTorchvisionResNet,
    patchTokens: torchvisionResNetCells,
    withPrevious: { build: buildTorchvisionResNetWithPrevious, takes: (c) => Boolean(c.neck?.pooler) }, // BioViL-T's temporal pooler
  });
  registerTower<SwinConfig>({ kind: 'hf-swin', modality: 'vision', build: buildSwin, patchTokens: swinCells });
  registerTower<ConchVisionConfig>({ kind: 'conch-vision', modality: 'vision', build: buildConchVision, patchTokens: (c) => ({ grid: Math.floor(c.imageSize / c.patchSize), width: c.width }) });
  registerTower<ConchTextConfig>({ kind: 'conch-text', modality: 'text', build: buildConchText });
  registerTower<OpenClipCocaVisionConfig>({
    kind: 'open_clip-coca-vision',
    modality: 'vision',
    build: buildOpenClipCocaVision,
    patchTokens: (c) => ({ grid: Math.floor(c.imageSize / c.patchSize), width: c.width }),
    openClip: { matches: (v) => v.attentional_pool === true, config: (v, ctx) => openClipCocaVisionConfig(v, ctx.embedDim, ctx.quickGelu, ctx.file) },
  });
  registerTower<ConchTextConfig>({
    kind: 'open_clip-coca-text',
    modality: 'text',
    build: buildConchText,
    openClip: { matches: (t) => t.embed_cls === true && !t.hf_model_name, config: (t, ctx) => openClipCocaTextConfig(t, ctx.embedDim, ctx.quickGelu, ctx.file) },
  });
  registerTower<CxrBertConfig>({ kind: 'cxr-bert', modality: 'text', build: buildCxrBertText });
  registerTower<MedclipTextConfig>({ kind: 'medclip-text', modality: 'text', build: buildMedclipText });
  registerTower<GloriaTextConfig>({ kind: 'gloria-text', modality: 'text', build: buildGloriaText });
}

