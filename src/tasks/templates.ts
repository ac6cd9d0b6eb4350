// Prompt templates and label sets as data, one entry per model family or domain, each with its source.
// A template holds "{}" where the class name goes. A task never asks which model it has: the model's spec
// names a template set, and the scoring (softmax / sigmoid / positive-negative pair) lives in zero-shot.ts.
import { ConfigError } from '../errors.ts';
import { medclipChexpertPrompts } from './medclip-prompts.ts';

export interface TemplateSet {
  /** Templates for the positive (class present) prompt; "{}" is replaced by the class name. */
  templates: readonly string[];
  /** Templates for the negative prompt, for positive/negative-pair scoring. */
  negativeTemplates?: readonly string[];
  /** Where the templates come from. */
  source: string;
  /**
   * Prompts written for each class rather than templates (MedCLIP): a label must be one of these classes
   * (then `templates` is not used), else it is an error naming them.
   */
  classPrompts?: Readonly<Record<string, readonly string[]>>;
}

export const TEMPLATE_SETS = {
  // CheXzero scores each pathology as the softmax over "{label}" and "no {label}".
  chexzero: {
    templates: ['{}'],
    negativeTemplates: ['no {}'],
    source: 'Tiu et al. 2022, "Expert-level detection of pathologies from unannotated chest X-ray images via self-supervised learning", Nat. Biomed. Eng. (CheXzero zero-shot evaluation)',
  },
  // The BiomedCLIP model card's zero-shot example.
  biomedclip: {
    templates: ['this is a photo of {}'],
    source: 'Zhang et al. 2023, "BiomedCLIP" (microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224 model card, zero-shot example)',
  },
  // PLIP's zero-shot prompt.
  plip: {
    templates: ['an H&E image of {}.'],
    source: 'Huang et al. 2023, "A visual-language foundation model for pathology image analysis using medical Twitter", Nat. Med. (PLIP zero-shot prompt)',
  },
  // QuiltNet: histopathology phrasing.
  quiltnet: {
    templates: ['a histopathology image of {}', 'an H&E image of {}', 'a histopathology slide showing {}'],
    source: 'Ikezogwo et al. 2023, "Quilt-1M: One Million Image-Text Pairs for Histopathology", NeurIPS Datasets and Benchmarks (zero-shot prompts)',
  },
  // CONCH's published ensemble (its repository's prompts/*_prompts_all_per_class.json, "CLASSNAME" → "{}").
  conch: {
    templates: [
      '{}.', 'a photomicrograph showing {}.', 'a photomicrograph of {}.', 'an image of {}.', 'an image showing {}.',
      'an example of {}.', '{} is shown.', 'this is {}.', 'there is {}.', 'a histopathological image showing {}.',
      'a histopathological image of {}.', 'a histopathological photograph of {}.', 'a histopathological photograph showing {}.',
      'shows {}.', 'presence of {}.', '{} is present.', 'an H&E stained image of {}.', 'an H&E stained image showing {}.',
      'an H&E image showing {}.', 'an H&E image of {}.', '{}, H&E stain.', '{}, H&E.',
    ],
    source: 'Lu et al. 2024, "A visual-language foundation model for computational pathology", Nat. Med. (CONCH, mahmoodlab/CONCH prompts/)',
  },
  // MedCLIP's CheXpert prompts (src/tasks/medclip-prompts.ts): every combination of its word lists per class.
  medclip: {
    templates: [],
    classPrompts: medclipChexpertPrompts(),
    source: 'Wang et al. 2022, "MedCLIP: Contrastive Learning from Unpaired Medical Images and Text", EMNLP (RyanWangZf/MedCLIP constants.py CHEXPERT_CLASS_PROMPTS, prompts.py generate_chexpert_class_prompts with n=None)',
  },
  // A small generic medical ensemble in the style of CLIP's prompt engineering.
  'clip-medical': {
    templates: ['a photo of {}.', 'a medical image of {}.', 'an image showing {}.', 'a radiograph showing {}.', 'a scan showing {}.', 'this is an image of {}.'],
    source: 'Radford et al. 2021, "Learning Transferable Visual Models From Natural Language Supervision" (prompt ensembling), adapted to medical images',
  },
} as const satisfies Record<string, TemplateSet>;

export type TemplateSetName = keyof typeof TEMPLATE_SETS;

/** Label sets by name: class names in the order of the classifier's columns. */
export const LABEL_SETS = {
  // The five CheXpert competition findings (Irvin et al. 2019), as CheXzero evaluates them.
  'chexpert-5': ['Atelectasis', 'Cardiomegaly', 'Consolidation', 'Edema', 'Pleural Effusion'],
  // The 14 CheXpert observations (Irvin et al. 2019).
  'chexpert-14': [
    'No Finding', 'Enlarged Cardiomediastinum', 'Cardiomegaly', 'Lung Opacity', 'Lung Lesion', 'Edema', 'Consolidation',
    'Pneumonia', 'Atelectasis', 'Pneumothorax', 'Pleural Effusion', 'Pleural Other', 'Fracture', 'Support Devices',
  ],
  // NCT-CRC-HE-100K tissue classes (Kather et al. 2019), as CONCH names them.
  'crc100k': ['adipose', 'background', 'debris', 'lymphocytes', 'mucus', 'smooth muscle', 'normal colon mucosa', 'cancer-associated stroma', 'colorectal adenocarcinoma epithelium'],
} as const satisfies Record<string, readonly string[]>;

export type LabelSetName = keyof typeof LABEL_SETS;

/** Names of the template sets. */
export function listTemplateSets(): TemplateSetName[] {
  return Object.keys(TEMPLATE_SETS) as TemplateSetName[];
}

/**
 * A template set by name; an unknown name is a ConfigError listing the known ones.
 * @example getTemplateSet('biomedclip').templates // ['this is a photo of {}']
 */
export function getTemplateSet(name: string): TemplateSet {
  const t = (TEMPLATE_SETS as Record<string, TemplateSet>)[name];
  if (!t) throw new ConfigError(`template set '${name}': unknown; expected one of ${listTemplateSets().join(', ')}`);
  return t;
}

/**
 * A label set by name; an unknown name is a ConfigError listing the known ones.
 * @example getLabelSet('chexpert-5')[0] // 'Atelectasis'
 */
export function getLabelSet(name: string): readonly string[] {
  const l = (LABEL_SETS as Record<string, readonly string[]>)[name];
  if (!l) throw new ConfigError(`label set '${name}': unknown; expected one of ${Object.keys(LABEL_SETS).join(', ')}`);
  return l;
}

/**
 * Put a class name into a template. The template must contain "{}" exactly once.
 * @example fillTemplate('no {}', 'edema') // 'no edema'
 */
export function fillTemplate(template: string, label: string): string {
  const parts = template.split('{}');
  if (parts.length !== 2) throw new ConfigError(`template '${template}': expected exactly one '{}' placeholder, found ${parts.length - 1}`);
  return parts[0] + label + parts[1];
}

/**
 * All prompts to embed for a set of labels: prompts[c][t] is template t filled with label c (and the
 * same for the negative templates when the set has them).
 * @example buildPrompts(['edema'], getTemplateSet('chexzero')) // { positive: [['edema']], negative: [['no edema']] }
 */
export function buildPrompts(labels: readonly string[], set: TemplateSet): { positive: string[][]; negative?: string[][] } {
  if (labels.length === 0) throw new ConfigError('labels: expected at least one class name, got none');
  const own = set.classPrompts;
  if (own) {
    const unknown = labels.filter((l) => !own[l]);
    if (unknown.length) throw new ConfigError(`labels ${JSON.stringify(unknown)}: this prompt set has prompts for ${Object.keys(own).join(', ')} only (give templates with --template for other classes)`);
    if (set.negativeTemplates) throw new ConfigError('a prompt set with class prompts has no negative prompts');
    return { positive: labels.map((l) => [...own[l]!]) };
  }
  const positive = labels.map((l) => set.templates.map((t) => fillTemplate(t, l)));
  if (!set.negativeTemplates) return { positive };
  return { positive, negative: labels.map((l) => set.negativeTemplates!.map((t) => fillTemplate(t, l))) };
}
