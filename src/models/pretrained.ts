// The pretrained medical vision-language models clipmed knows by name, as data: where the weights are, which
// architecture family builds them, how their authors preprocess and score, the prompt templates, licence,
// gating, size and paper. Facts come from the hub pages, model cards and repositories named in each entry;
// those that could not be confirmed carry `unverified: true` with a note saying which.
import { ConfigError } from '../errors.ts';
import { PROTOCOLS, type ProtocolName, type ProtocolStep } from '../image/protocol.ts';
import type { TemplateSetName } from '../tasks/templates.ts';

/** The architecture family that builds a model (src/models/families.ts), or one clipmed does not build yet. */
export type PretrainedFamily = 'open_clip' | 'hf_clip' | 'siglip' | 'open_clip_custom_text' | 'conch' | 'biovil' | 'medclip' | 'gloria';

export interface PretrainedSpec {
  title: string;
  family: PretrainedFamily;
  /** whether this clipmed build constructs the family */
  supported: boolean;
  /** Hugging Face hub repository and the files a local copy needs, or a manual download */
  source:
    | {
        kind: 'hub';
        repo: string;
        files: string[];
        /** a commit the entry was checked against; fetched instead of `main` when given */
        revision?: string;
        /** sha256 of the weights file at that revision, checked after download when given */
        sha256?: string;
      }
    | {
        kind: 'manual'; url: string; files: string[]; note: string;
        /** a hub repository the tokenizer files come from, fetched when the file is given by its published name (GLoRIA's BERT) */
        tokenizer?: { repo: string; files: string[] };
      }
    /**
     * a release file (a zip) at a URL, downloaded into clipmed's cache (CLIPMED_RELEASE_ENDPOINT names a mirror)
     * and unzipped; `files` are what it must hold, `reader` the layout that reads them with its hub repositories
     */
    | { kind: 'release'; url: string; files: string[]; reader: 'medclip-vit' | 'medclip-resnet'; note: string };
  /** the authors' published preprocessing, where it differs from what the checkpoint's config says */
  preprocess?: { protocol: ProtocolName; source: string; steps: readonly ProtocolStep[] };
  /** softmax over classes (CLIP), per-class sigmoid (SigLIP), or softmax over a positive/negative prompt pair (CheXzero) */
  scoring: 'softmax' | 'sigmoid' | 'positive-negative-pair';
  /** a template set name in src/tasks/templates.ts */
  templates: TemplateSetName;
  license: string;
  /** the hub asks for accepted terms or approval before download */
  gated: boolean;
  /** approximate download size of the weights, MB */
  sizeMB: number;
  paper: string;
  /** a fact above could not be confirmed from a primary source; `note` says which */
  unverified?: true;
  note?: string;
}

/** The CheXzero preprocessing (rajpurkarlab/CheXzero data_process.py `preprocess`, zero_shot.py transforms). */
const CHEXZERO_PREPROCESS: NonNullable<PretrainedSpec['preprocess']> = {
  protocol: 'chexzero',
  source: 'rajpurkarlab/CheXzero data_process.py (preprocess, img_to_hdf5) and zero_shot.py (Normalize, Resize)',
  steps: PROTOCOLS.chexzero,
};

export const PRETRAINED = {
  biomedclip: {
    title: 'BiomedCLIP (PubMedBERT-256, ViT-B/16)',
    family: 'open_clip_custom_text',
    supported: true,
    source: {
      kind: 'hub',
      repo: 'microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224',
      files: ['open_clip_config.json', 'open_clip_pytorch_model.bin', 'vocab.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'],
    },
    scoring: 'softmax',
    templates: 'biomedclip',
    license: 'MIT',
    gated: false,
    sizeMB: 784,
    paper: 'Zhang et al. 2023, "Large-Scale Domain-Specific Pretraining for Biomedical Vision-Language Processing", arXiv:2303.00915 (NEJM AI 2024: "A Multimodal Biomedical Foundation Model Trained from Fifteen Million Image-Text Pairs")',
    note: 'The model card limits use to research ("any deployed use case ... is currently out of scope").',
  },
  pubmedclip: {
    title: 'PubMedCLIP (ViT-B/32)',
    family: 'hf_clip',
    supported: true,
    source: { kind: 'hub', repo: 'flaviagiammarino/pubmed-clip-vit-base-patch32', files: ['config.json', 'preprocessor_config.json', 'pytorch_model.bin', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt'] },
    scoring: 'softmax',
    templates: 'clip-medical',
    license: 'MIT',
    gated: false,
    sizeMB: 605,
    paper: 'Eslami, de Melo, Meinel 2023, "PubMedCLIP: How Much Does CLIP Benefit Visual Question Answering in the Medical Domain?", Findings of EACL 2023',
    unverified: true,
    note: 'The file list is the usual transformers CLIP layout, not read from the repository.',
  },
  plip: {
    title: 'PLIP (pathology, ViT-B/32)',
    family: 'hf_clip',
    supported: true,
    source: { kind: 'hub', repo: 'vinid/plip', files: ['config.json', 'preprocessor_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'] },
    scoring: 'softmax',
    templates: 'plip',
    license: 'not stated on the hub page; see the model card',
    gated: false,
    sizeMB: 605,
    paper: 'Huang et al. 2023, "A visual-language foundation model for pathology image analysis using medical Twitter", Nature Medicine 29:2307-2316',
    unverified: true,
    note: 'Licence unconfirmed (the hub page shows none); pytorch_model.bin is also there.',
  },
  chexzero: {
    title: 'CheXzero (chest X-ray, ViT-B/32, OpenAI layout)',
    family: 'open_clip',
    supported: true,
    source: {
      kind: 'manual',
      url: 'https://drive.google.com/drive/folders/1makFLiEMbSleYltaRxw81aBhEDMpVwno',
      files: ['best_64_5e-05_original_20000_0.864.pt'],
      note: 'Google Drive folder linked from the rajpurkarlab/CheXzero README; it holds the ensemble of checkpoints (OpenAI-format state dicts, context length 77). Download one or more .pt files by hand and pass the file path as the model.',
    },
    preprocess: CHEXZERO_PREPROCESS,
    scoring: 'positive-negative-pair',
    templates: 'chexzero',
    license: 'MIT per the README; the LICENSE file says Apache-2.0 with the Commons Clause',
    gated: false,
    sizeMB: 338,
    paper: 'Tiu et al. 2022, "Expert-level detection of pathologies from unannotated chest X-ray images via self-supervised learning", Nature Biomedical Engineering 6:1399-1406',
    unverified: true,
    note: 'Checkpoint file name and size from third-party download scripts, not the Drive folder itself; the two licence statements disagree.',
  },
  'quiltnet-b-32': {
    title: 'QuiltNet-B-32 (histopathology)',
    family: 'open_clip',
    supported: true,
    source: { kind: 'hub', repo: 'wisdomik/QuiltNet-B-32', files: ['open_clip_config.json', 'open_clip_pytorch_model.bin'] },
    scoring: 'softmax',
    templates: 'quiltnet',
    license: 'MIT',
    gated: false,
    sizeMB: 605,
    paper: 'Ikezogwo et al. 2023, "Quilt-1M: One Million Image-Text Pairs for Histopathology", NeurIPS 2023 Datasets and Benchmarks',
    unverified: true,
    note: 'Size and gating unconfirmed.',
  },
  'quiltnet-b-16': {
    title: 'QuiltNet-B-16 (histopathology)',
    family: 'open_clip',
    supported: true,
    source: { kind: 'hub', repo: 'wisdomik/QuiltNet-B-16', files: ['open_clip_config.json', 'open_clip_pytorch_model.bin'] },
    scoring: 'softmax',
    templates: 'quiltnet',
    license: 'MIT',
    gated: false,
    sizeMB: 599,
    paper: 'Ikezogwo et al. 2023, "Quilt-1M: One Million Image-Text Pairs for Histopathology", NeurIPS 2023 Datasets and Benchmarks',
    unverified: true,
    note: 'Gating unconfirmed.',
  },
  'quiltnet-b-16-pmb': {
    title: 'QuiltNet-B-16-PMB (histopathology, timm ViT-B/16 + PubMedBERT, context 256)',
    family: 'open_clip_custom_text',
    supported: true,
    source: { kind: 'hub', repo: 'wisdomik/QuiltNet-B-16-PMB', files: ['open_clip_config.json', 'open_clip_pytorch_model.bin', 'vocab.txt'] },
    scoring: 'softmax',
    templates: 'quiltnet',
    license: 'MIT',
    gated: false,
    sizeMB: 784,
    paper: 'Ikezogwo et al. 2023, "Quilt-1M: One Million Image-Text Pairs for Histopathology", NeurIPS 2023 Datasets and Benchmarks',
    unverified: true,
    note: 'Only the repository is confirmed; licence, files (whether vocab.txt is in the repository rather than only in the BERT repository), size and gating are assumed from QuiltNet-B-16 and BiomedCLIP.',
  },
  'unimed-clip-b-16': {
    title: 'UniMed-CLIP (open_clip ViT-B/16 QuickGELU + BiomedBERT-base)',
    family: 'open_clip_custom_text',
    supported: true,
    source: { kind: 'hub', repo: 'UzairK/unimed-clip-vit-b16', files: ['unimed_clip_vit_b16.pt'] },
    scoring: 'softmax',
    templates: 'clip-medical',
    license: 'CC-BY-NC-4.0',
    gated: false,
    sizeMB: 600,
    paper: 'Khattak et al. 2024, "UniMed-CLIP: Towards a Unified Image-Text Pretraining Paradigm for Diverse Medical Imaging Modalities", arXiv:2412.10372',
    unverified: true,
    note: 'A training checkpoint of the authors\' open_clip fork (ViT-B-16-quickgelu + microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract), not an open_clip hub folder: clipmed needs it beside an open_clip_config.json and the BERT vocab.txt. Size, key layout, context length and normalisation constants unconfirmed.',
  },
  'medsiglip-448': {
    title: 'MedSigLIP-448',
    family: 'siglip',
    supported: true,
    source: { kind: 'hub', repo: 'google/medsiglip-448', files: ['config.json', 'preprocessor_config.json', 'model.safetensors', 'tokenizer_config.json', 'special_tokens_map.json', 'spiece.model'] },
    scoring: 'sigmoid',
    templates: 'clip-medical',
    license: 'Health AI Developer Foundations terms of use',
    gated: true,
    sizeMB: 3500,
    paper: 'Sellergren et al. 2025, "MedGemma Technical Report", arXiv:2507.05201 (MedSigLIP: 400M-parameter vision and text encoders, 448 px, 64 text tokens)',
    unverified: true,
    note: 'File list, size (about 0.9B parameters in float32) and the report\'s arXiv number unconfirmed; the model card confirms the 400M + 400M towers, 448 px, 64 tokens and the terms of use.',
  },
  conch: {
    title: 'CONCH (pathology, CoCa ViT-B/16, 448 px)',
    family: 'conch',
    supported: true,
    source: { kind: 'hub', repo: 'MahmoodLab/conch', files: ['meta.yaml', 'pytorch_model.bin'] },
    scoring: 'softmax',
    templates: 'conch',
    license: 'CC-BY-NC-ND-4.0',
    gated: true,
    sizeMB: 1600,
    paper: 'Lu et al. 2024, "A visual-language foundation model for computational pathology", Nature Medicine 30:863-874',
    unverified: true,
    note: "Repository and files from the mahmoodlab/CONCH README and factory.py (hf_hub_download of meta.yaml and pytorch_model.bin; access granted per request; clipmed reads meta.yaml's presence only, as factory.py does). The reader (src/models/readers/conch.ts) builds CoCa's towers (conch-vision / conch-text) from conch_ViT-B-16.json, which lives in the conch Python package and is carried by clipmed as data. The tokenizer is the package's byte-level BPE conch/open_clip_custom/tokenizers/conch_byte_level_bpe_uncased.json (commit 141cc09, sha256 a3861e67c64d32670eb6725a8e52d7dbdd2a06646a4a3c7463052ae7110760fb), not on the hub and not shipped with clipmed (CC-BY-NC-ND): the model folder's own copy when it has one, else fetched once into clipmed's cache from CONCH's repository at that commit (CLIPMED_RELEASE_ENDPOINT names a mirror); its id count must equal the text tower's vocabulary. Preprocessing (transform.py with the mean/std factory.py sets): Resize(448, bicubic) on the shortest side, CenterCrop(448), OpenAI mean/std. Scores: softmax of cosine similarity times exp(logit_scale). Size and the hub repository's file list unconfirmed.",
  },
  'pubmedclip-rn50': {
    title: 'PubMedCLIP (RN50, OpenAI CLIP fine-tuned on ROCO)',
    family: 'open_clip',
    supported: true,
    source: {
      kind: 'manual',
      url: 'https://1drv.ms/u/s!ApXgPqe9kykTgn9wfsfX8JN0kjo-?e=dheCuW',
      files: ['PubMedCLIP_RN50.pth'],
      note: 'OneDrive folder linked from sarahESL/PubMedCLIP PubMedCLIP/README.md. The training script saves {best_epoch, state_dict, optimizer_state_dict, best_loss}; clipmed reads the state_dict inside and builds the OpenAI ModifiedResNet (open_clip-modified-resnet) and text transformer from its shapes. Pass the file path as the model.',
    },
    scoring: 'softmax',
    templates: 'clip-medical',
    license: 'MIT (LICENSE of sarahESL/PubMedCLIP)',
    gated: false,
    sizeMB: 1100,
    paper: 'Eslami, de Melo, Meinel 2023, "PubMedCLIP: How Much Does CLIP Benefit Visual Question Answering in the Medical Domain?", Findings of EACL 2023',
    unverified: true,
    note: 'File name inside the OneDrive folder, its size (weights plus optimizer state) and whether the RN50 file keeps OpenAI key names unconfirmed; the licence file was not read.',
  },
  'pubmedclip-rn50x4': {
    title: 'PubMedCLIP (RN50x4, 288 px)',
    family: 'open_clip',
    supported: true,
    source: {
      kind: 'manual',
      url: 'https://1drv.ms/u/s!ApXgPqe9kykTgn9wfsfX8JN0kjo-?e=dheCuW',
      files: ['PubMedCLIP_RN50x4.pth'],
      note: 'The same OneDrive folder as pubmedclip-rn50; RN50x4 is a ModifiedResNet of width 80, blocks [4, 6, 10, 6], 288 px, inferred from the shapes.',
    },
    scoring: 'softmax',
    templates: 'clip-medical',
    license: 'MIT (LICENSE of sarahESL/PubMedCLIP)',
    gated: false,
    sizeMB: 1800,
    paper: 'Eslami, de Melo, Meinel 2023, "PubMedCLIP: How Much Does CLIP Benefit Visual Question Answering in the Medical Domain?", Findings of EACL 2023',
    unverified: true,
    note: 'File name, size and key layout unconfirmed, as for pubmedclip-rn50.',
  },
  biovil: {
    title: 'BioViL (chest X-ray, ResNet-50 + CXR-BERT-specialized, 128-d joint space)',
    family: 'biovil',
    supported: true,
    source: {
      kind: 'hub',
      repo: 'microsoft/BiomedVLP-CXR-BERT-specialized',
      files: ['biovil_image_resnet50_proj_size_128.pt', 'config.json', 'pytorch_model.bin', 'vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json'],
      revision: 'v1.1',
    },
    preprocess: { protocol: 'biovil', source: 'hi-ml-multimodal image/data/io.py load_image, image/data/transforms.py, image/utils.py (Resize 512, CenterCrop 480)', steps: PROTOCOLS.biovil },
    scoring: 'softmax',
    templates: 'clip-medical',
    license: 'MIT',
    gated: false,
    sizeMB: 540,
    paper: 'Boecking et al. 2022, "Making the Most of Text Semantics to Improve Biomedical Vision-Language Processing", ECCV 2022',
    unverified: true,
    note: "Image weights file, revision v1.1 and md5 02ce6ee460f72efd599295f440dbb453 from hi-ml-multimodal image/model/pretrained.py. Built: the folder's two weights files are read as one state dict; torchvision-resnet with BioViL's 1x1-conv projector (checked against hi-ml's ImageModel) and cxr-bert (hi-ml's CXRBertModel over a BERT stand-in). Scoring: BioViL has no learned temperature (hi-ml compares cosine similarities), so the softmax runs at scale 1: the order of the classes is hi-ml's, the probabilities are flat. Text-side file list, licence of the weights and size unconfirmed; BioViL's own zero-shot prompts are not a template set.",
  },
  'biovil-t': {
    title: 'BioViL-T (chest X-ray, temporal: ResNet-50 + ViT pooler, CXR-BERT)',
    family: 'biovil',
    supported: true,
    source: { kind: 'hub', repo: 'microsoft/BiomedVLP-BioViL-T', files: ['biovil_t_image_model_proj_size_128.pt', 'config.json', 'pytorch_model.bin', 'vocab.txt', 'tokenizer_config.json'], revision: 'v1.0' },
    preprocess: { protocol: 'biovil-t', source: 'hi-ml-multimodal image/utils.py (Resize 512, CenterCrop 448 for BioViL-T)', steps: PROTOCOLS['biovil-t'] },
    scoring: 'softmax',
    templates: 'clip-medical',
    license: 'MIT',
    gated: false,
    sizeMB: 560,
    paper: 'Bannur et al. 2023, "Learning to Exploit Temporal Structure for Biomedical Vision-Language Processing", CVPR 2023',
    unverified: true,
    note: "Image weights file, revision v1.0 and md5 a83080e2f23aa584a4f2b24c39b1bb64 from hi-ml-multimodal image/model/pretrained.py. Built: hi-ml's MultiImageEncoder without a previous image (ResNet-50, a 1x1 conv to 256 joined by the learned missing-previous embedding, BioViL's projector; checked against hi-ml's ImageModel) and, with a previous image (`--prior` of embed / classify, embedWithPrior), its temporal path: both images through the trunk, the VisionTransformerPooler (3 blocks, 8 heads, sine position + type embeddings, 14 x 14 grid at 448 px) comparing the current patches with the previous ones (checked against hi-ml's MultiImageModel on a tiny random-weight model, the pooler 32 wide); and cxr-bert. Scoring at scale 1, as for biovil. Text-side files, licence and size unconfirmed.",
  },
  'medclip-vit': {
    title: 'MedCLIP-ViT (chest X-ray, Swin-T + Bio_ClinicalBERT)',
    family: 'medclip',
    supported: true,
    source: {
      kind: 'release',
      url: 'https://storage.googleapis.com/pytrial/medclip-vit-pretrained.zip',
      files: ['pytorch_model.bin'],
      reader: 'medclip-vit',
      note: 'The URL is the content of medclip/medclip_vit_weight.txt in RyanWangZf/MedCLIP; MedCLIPModel.from_pretrained downloads the zip and loads pytorch_model.bin from it (vision_model.model.* = SwinModel of microsoft/swin-tiny-patch4-window7-224, vision_model.projection_head, text_model.model.* = emilyalsentzer/Bio_ClinicalBERT, text_model.projection_head, logit_scale). clipmed downloads and unzips it, and fetches the Swin config and Bio_ClinicalBERT\'s config.json and vocab.txt from those two hub repositories, as MedCLIP\'s code does; the zip or the folder it unzips to can also be given as --model.',
    },
    preprocess: { protocol: 'medclip', source: 'RyanWangZf/MedCLIP medclip/dataset.py MedCLIPFeatureExtractor and constants.py', steps: PROTOCOLS.medclip },
    scoring: 'softmax',
    templates: 'medclip',
    license: 'BSD (setup.py classifier of RyanWangZf/MedCLIP; the repository has no LICENSE file)',
    gated: false,
    sizeMB: 800,
    paper: 'Wang et al. 2022, "MedCLIP: Contrastive Learning from Unpaired Medical Images and Text", EMNLP 2022',
    unverified: true,
    note: "Read by src/models/readers/medclip.ts: hf-swin with MedCLIP's projection head and medclip-text (the unmasked mean over tokens of hidden states 1, 2 and the last, then a bias-free projection), the image tower told by the keys. Zero-shot as MedCLIP's README runs it: the prompts of CHEXPERT_CLASS_PROMPTS (template set 'medclip': all of them, where the README samples 10 at random), each class's prompts padded to their longest (padding=True; the embedding depends on it), PromptClassifier(ensemble=True): a class's logit is the mean of its prompts' logit_scale * cosine, logit_scale = exp(clamp(logit_scale, 0, 4.6052)); clipmed's probabilities are the softmax of those logits. Checked end to end against MedCLIP's own code on a tiny random-weight model (transformers' Swin, BERT and tokenizer written from its source, which cannot run here). The release's state dict holds text_model.model.embeddings.position_ids, as the fixture's does (RyanWangZf/MedCLIP issue #37: newer transformers refuse that key; clipmed ignores it). Licence, size and the zip's exact contents (beyond pytorch_model.bin at its root, where from_pretrained loads it) unconfirmed.",
  },
  'medclip-resnet': {
    title: 'MedCLIP-ResNet (chest X-ray, ResNet-50 + Bio_ClinicalBERT)',
    family: 'medclip',
    supported: true,
    source: {
      kind: 'release',
      url: 'https://storage.googleapis.com/pytrial/medclip-pretrained.zip',
      files: ['pytorch_model.bin'],
      reader: 'medclip-resnet',
      note: 'The URL is the content of medclip/medclip_resnet_weight.txt in RyanWangZf/MedCLIP; MedCLIPModel(vision_cls=MedCLIPVisionModel).from_pretrained loads pytorch_model.bin from the zip (vision_model.model.* = torchvision resnet50 whose fc is Linear(2048, 512, bias=False); text_model.* as in medclip-vit). Bio_ClinicalBERT\'s config.json and vocab.txt come from its hub repository.',
    },
    preprocess: { protocol: 'medclip', source: 'RyanWangZf/MedCLIP medclip/dataset.py MedCLIPFeatureExtractor and constants.py', steps: PROTOCOLS.medclip },
    scoring: 'softmax',
    templates: 'medclip',
    license: 'BSD (setup.py classifier of RyanWangZf/MedCLIP; the repository has no LICENSE file)',
    gated: false,
    sizeMB: 600,
    paper: 'Wang et al. 2022, "MedCLIP: Contrastive Learning from Unpaired Medical Images and Text", EMNLP 2022',
    unverified: true,
    note: "Read by src/models/readers/medclip.ts as medclip-vit, with torchvision-resnet and a linear head on the pooled features (trunk and head 'vision_model.model.', fc without bias; the tower is checked against torchvision's ResNet.forward). Checked against MedCLIP's own PromptClassifier on MedCLIPVisionModel at tiny sizes (torchvision's ResNet code with the torchvision-resnet tower fixture's trunk, whose 94 MB full size is not stored; the state dict put together under MedCLIP's keys in the test rather than saved by MedCLIP's code). Licence and size unconfirmed.",
  },
  'gloria-resnet50': {
    title: 'GLoRIA (chest X-ray, ResNet-50 + Bio_ClinicalBERT, global and local alignment)',
    family: 'gloria',
    supported: true,
    source: {
      kind: 'manual',
      url: 'https://stanfordmedicine.box.com/s/j5h7q99f3pfi7enc0dom73m4nsm6yzvh',
      files: ['chexpert_resnet50.ckpt'],
      note: "Box folder linked from the marshuang80/gloria README; gloria.py loads ./pretrained/chexpert_resnet50.ckpt (a PyTorch Lightning checkpoint: state_dict with gloria.img_encoder.* and gloria.text_encoder.*, hyper_parameters = GLoRIA's OmegaConf config). Pass the file, under that name, as --model; the tokenizer (vocab.txt, config.json) is fetched from emilyalsentzer/Bio_ClinicalBERT, the model.text.bert_type of its config.",
      tokenizer: { repo: 'emilyalsentzer/Bio_ClinicalBERT', files: ['vocab.txt', 'config.json'] },
    },
    preprocess: { protocol: 'gloria', source: 'marshuang80/gloria gloria/models/gloria_model.py process_img and _resize_img, gloria/builder.py build_transformation (test split)', steps: PROTOCOLS.gloria },
    scoring: 'softmax',
    templates: 'clip-medical',
    license: 'Apache-2.0 (LICENSE of marshuang80/gloria)',
    gated: false,
    sizeMB: 500,
    paper: 'Huang et al. 2021, "GLoRIA: A Multimodal Global-Local Representation Learning Framework for Label-efficient Medical Image Recognition", ICCV 2021',
    unverified: true,
    note: "Built from the Lightning checkpoint (src/models/readers/gloria.ts; hyper_parameters read as data, nothing of omegaconf or pytorch_lightning runs): torchvision-resnet with the gloria head (in-graph upsample to 299, global_embedder on the pooled layer 4, local_embedder on the layer-3 regions) and gloria-text (Bio_ClinicalBERT, last four layers summed, subwords summed into words, GLoRIA's prompt cleaning); its zero-shot score is the spec's 'global-local' scoring (src/tasks/local-alignment.ts: the mean of the global cosine and the attention-weighted word-region similarity, the best prompt per class), probabilities a softmax of those similarities (GLoRIA itself standardises them across the images of a batch). Preprocessing: the gloria protocol (GLoRIA's process_img: grey, cv2 INTER_AREA resize of the longest side to 256, zero padding, centre crop 224, Normalize(0.5, 0.5); OpenCV's INTER_AREA in src/image/cv-area.ts, pixel for pixel as cv2 4.6; grey is PIL's 'L' of the decoded image where cv2.imread reads the JPEG's luma, the same for grey X-rays). Checked end to end against GLoRIA's own code (process_img with real cv2 included) on a tiny random-weight model (test/fixtures/gloria-model), with a BERT stand-in since transformers cannot be installed. The published checkpoint itself was not available to check; size and whether the licence covers the weights unconfirmed.",
  },
} as const satisfies Record<string, PretrainedSpec>;

export type PretrainedName = keyof typeof PRETRAINED;

/**
 * Every registered name, in registry order.
 * @example listModels()[0] // 'biomedclip'
 */
export function listModels(): PretrainedName[] {
  return Object.keys(PRETRAINED) as PretrainedName[];
}

/**
 * The spec of a registered name; an unknown name is a ConfigError listing the known ones.
 * @example getSpec('chexzero').scoring // 'positive-negative-pair'
 */
export function getSpec(name: string): PretrainedSpec {
  const s = (PRETRAINED as Record<string, PretrainedSpec>)[name];
  if (!s) throw new ConfigError(`pretrained model '${name}': unknown; expected one of ${listModels().join(', ')}`);
  return s;
}
