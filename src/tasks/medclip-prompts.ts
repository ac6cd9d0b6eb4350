// MedCLIP's zero-shot prompts as data (Wang et al., EMNLP 2022; RyanWangZf/MedCLIP medclip/constants.py
// CHEXPERT_CLASS_PROMPTS, which MedCLIP drew from GLoRIA): per CheXpert competition class, three word lists whose
// every combination is a prompt, joined with single spaces in the lists' order (medclip/prompts.py
// generate_chexpert_class_prompts), empty words included (" mild cardiomegaly" keeps its leading space; the
// tokenizer drops it). MedCLIP's README samples n = 10 of them with random.sample; clipmed takes them all
// (generate_chexpert_class_prompts(n=None)), which is deterministic.

/** The three word lists of each class, in the order MedCLIP's dictionary lists them. */
export const MEDCLIP_CHEXPERT_AXES: Readonly<Record<string, readonly (readonly string[])[]>> = {
  Atelectasis: [
    ['', 'mild', 'minimal'],
    ['subsegmental atelectasis', 'linear atelectasis', 'trace atelectasis', 'bibasilar atelectasis', 'retrocardiac atelectasis', 'bandlike atelectasis', 'residual atelectasis'],
    [
      'at the mid lung zone', 'at the upper lung zone', 'at the right lung zone', 'at the left lung zone', 'at the lung bases', 'at the right lung base',
      'at the left lung base', 'at the bilateral lung bases', 'at the left lower lobe', 'at the right lower lobe',
    ],
  ],
  Cardiomegaly: [
    [''],
    [
      'cardiac silhouette size is upper limits of normal', 'cardiomegaly which is unchanged', 'mildly prominent cardiac silhouette',
      'portable view of the chest demonstrates stable cardiomegaly', 'portable view of the chest demonstrates mild cardiomegaly',
      'persistent severe cardiomegaly', 'heart size is borderline enlarged', 'cardiomegaly unchanged', 'heart size is at the upper limits of normal',
      'redemonstration of cardiomegaly', 'ap erect chest radiograph demonstrates the heart size is the upper limits of normal',
      'cardiac silhouette size is mildly enlarged',
      'mildly enlarged cardiac silhouette, likely left ventricular enlargement. other chambers are less prominent',
      'heart size remains at mildly enlarged', 'persistent cardiomegaly with prominent upper lobe vessels',
    ],
    [''],
  ],
  Consolidation: [
    ['', 'increased', 'improved', 'apperance of'],
    ['bilateral consolidation', 'reticular consolidation', 'retrocardiac consolidation', 'patchy consolidation', 'airspace consolidation', 'partial consolidation'],
    [
      'at the lower lung zone', 'at the upper lung zone', 'at the left lower lobe', 'at the right lower lobe', 'at the left upper lobe',
      'at the right uppper lobe', 'at the right lung base', 'at the left lung base',
    ],
  ],
  Edema: [
    ['', 'mild', 'improvement in', 'presistent', 'moderate', 'decreased'],
    ['pulmonary edema', 'trace interstitial edema', 'pulmonary interstitial edema'],
    [''],
  ],
  // severity, location, subtype: this class lists location before subtype, and the prompt follows that order
  'Pleural Effusion': [
    ['', 'small', 'stable', 'large', 'decreased', 'increased'],
    ['left', 'right', 'tiny'],
    ['bilateral pleural effusion', 'subpulmonic pleural effusion', 'bilateral pleural effusion'],
  ],
};

/**
 * Every prompt of every class, in MedCLIP's order: `${a} ${b} ${c}` for a, b, c over the three lists, the last varying fastest.
 * @example medclipChexpertPrompts().Cardiomegaly[0] // ' cardiac silhouette size is upper limits of normal '
 */
export function medclipChexpertPrompts(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [cls, [a, b, c]] of Object.entries(MEDCLIP_CHEXPERT_AXES)) {
    out[cls] = a!.flatMap((x) => b!.flatMap((y) => c!.map((z) => `${x} ${y} ${z}`)));
  }
  return out;
}
