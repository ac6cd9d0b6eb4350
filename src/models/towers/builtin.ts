// The towers clipmed builds, registered by kind (see registry.ts for the contract). Importing this module
// once registers them all; the readers import it.
//
// | kind              | modality | reference implementation                          | keys under prefix          |
// |-------------------|----------|---------------------------------------------------|----------------------------|
// | open_clip-vit     | vision   | open_clip VisionTransformer                       | conv1, class_embedding, transformer.resblocks.N, ln_post, proj |
// | timm-vit          | vision   | timm VisionTransformer in open_clip's TimmModel   | trunk.*, head.proj         |
// | hf-clip-vision    | vision   | transformers CLIPVisionTransformer + projection   | vision_model.*, visual_projection |
// | siglip-vision     | vision   | transformers SiglipVisionTransformer (attn head)  | vision_model.*             |
// | open_clip-text    | text     | open_clip TextTransformer / CLIP.encode_text      | token_embedding, transformer.resblocks.N, ln_final, text_projection |
// | hf-bert           | text     | open_clip HFTextEncoder around a BertModel        | transformer.*, proj.*      |
// | hf-clip-text      | text     | transformers CLIPTextTransformer + projection     | text_model.*, text_projection |
// | siglip-text       | text     | transformers SiglipTextTransformer (head)          | text_model.*               |
import { buildBertText, type BertTowerConfig } from '../bert.ts';
import { parseOpenClipText, parseOpenClipVision } from '../clip-config.ts';
import { buildOpenClipText, buildOpenClipVit, type OpenClipTextConfig, type OpenClipVitConfig } from '../clip-towers.ts';
import { buildHfClipText, buildHfClipVision, type HfClipTextTowerConfig, type HfClipVisionTowerConfig } from '../hf-clip-family.ts';
import { buildSiglipText, buildSiglipVision, type SiglipTextTowerConfig, type SiglipVisionTowerConfig } from '../siglip-family.ts';
import { readBertTextCfg, readTimmVisionCfg } from '../timm-hf-family.ts';
import { buildTimmVit, type TimmVitTowerConfig } from '../timm-vit.ts';
import { listTowers, registerTower } from './registry.ts';
import { registerSurveyTowers } from './survey.ts'; // ModifiedResNet, torchvision ResNet, Swin, CoCa (table there)

const grid = (imageSize: number, patchSize: number) => Math.floor(imageSize / patchSize);

function registerBuiltins(): void {
  registerTower<OpenClipVitConfig>({
    kind: 'open_clip-vit',
    modality: 'vision',
    build: buildOpenClipVit,
    patchTokens: (c) => ({ grid: grid(c.imageSize, c.patchSize), width: c.width }),
    openClip: {
      matches: (v) => !v.timm_model_name && !v.attentional_pool && typeof (v.layers ?? 12) === 'number',
      config: (v, ctx) => ({ ...parseOpenClipVision(v, ctx.file), act: ctx.quickGelu ? 'quick_gelu' : 'gelu', embedDim: ctx.embedDim }),
    },
  });
  registerTower<TimmVitTowerConfig>({
    kind: 'timm-vit',
    modality: 'vision',
    build: buildTimmVit,
    patchTokens: (c) => ({ grid: grid(c.imageSize, c.patchSize), width: c.width }),
    openClip: {
      matches: (v) => typeof v.timm_model_name === 'string',
      config: (v, ctx) => ({ ...readTimmVisionCfg(v, ctx.sd, ctx.file, ctx.prefix), embedDim: ctx.embedDim }),
    },
  });
  registerTower<HfClipVisionTowerConfig>({
    kind: 'hf-clip-vision',
    modality: 'vision',
    build: buildHfClipVision,
    patchTokens: (c) => ({ grid: grid(c.imageSize, c.patchSize), width: c.width }),
  });
  registerTower<SiglipVisionTowerConfig>({
    kind: 'siglip-vision',
    modality: 'vision',
    build: buildSiglipVision,
    patchTokens: (c) => ({ grid: grid(c.imageSize, c.patchSize), width: c.width }),
  });
  registerTower<OpenClipTextConfig>({
    kind: 'open_clip-text',
    modality: 'text',
    build: buildOpenClipText,
    openClip: {
      matches: (t) => !t.hf_model_name && !t.embed_cls,
      config: (t, ctx) => ({ ...parseOpenClipText(t, ctx.file), act: ctx.quickGelu ? 'quick_gelu' : 'gelu', embedDim: ctx.embedDim }),
    },
  });
  registerTower<BertTowerConfig>({
    kind: 'hf-bert',
    modality: 'text',
    build: buildBertText,
    openClip: {
      matches: (t) => typeof t.hf_model_name === 'string',
      config: (t, ctx) => {
        const r = readBertTextCfg(t, ctx.embedDim, ctx.sd, ctx.file, ctx.prefix);
        return { ...r.bert, pooler: r.pooler, proj: r.proj, contextLength: r.contextLength, embedDim: ctx.embedDim };
      },
    },
  });
  registerTower<HfClipTextTowerConfig>({ kind: 'hf-clip-text', modality: 'text', build: buildHfClipText });
  registerTower<SiglipTextTowerConfig>({ kind: 'siglip-text', modality: 'text', build: buildSiglipText });
}

if (!listTowers().some((t) => t.kind === 'open_clip-vit')) registerBuiltins();
if (!listTowers().some((t) => t.kind === 'open_clip-modified-resnet')) registerSurveyTowers();
