// Explainable zero-shot diagnosis after Xplainer (Pellegrini et al. 2023, "Xplainer: From X-Ray
// Observations to Explainable Zero-Shot Diagnosis", MICCAI). Each disease is described by radiological
// observations; each observation gets a positive prompt ("There are {descriptor} indicating {disease}") and
// a negative one ("There are no ..."); the observation's probability is the softmax over the pair, and the
// diagnosis probability is the geometric mean of the observation probabilities (exp of the mean log).
import { ConfigError, ShapeError } from '../errors.ts';
import { asMatrix, norm, type MatrixLike } from './matrix.ts';

/**
 * A few chest X-ray findings with observations in the style of Xplainer's descriptor lists (our wording,
 * drawn from standard radiological signs; Xplainer's own lists were generated with ChatGPT and curated).
 */
export const CXR_DESCRIPTORS = {
  pneumonia: ['airspace consolidation', 'air bronchograms', 'patchy opacities', 'lobar opacification', 'ill-defined infiltrates'],
  'pleural effusion': ['blunting of the costophrenic angles', 'a meniscus sign', 'fluid in the pleural space', 'opacification of the lung base', 'layering fluid along the chest wall'],
  cardiomegaly: ['an enlarged cardiac silhouette', 'a cardiothoracic ratio above one half', 'a widened heart border', 'a globular heart shape'],
  edema: ['perihilar haziness', 'Kerley B lines', 'peribronchial cuffing', 'cephalization of pulmonary vessels', 'bilateral alveolar opacities'],
  pneumothorax: ['a visible visceral pleural line', 'absent lung markings beyond the pleural line', 'a deep sulcus sign', 'a hyperlucent hemithorax', 'mediastinal shift'],
} as const satisfies Record<string, readonly string[]>;

/**
 * The positive and negative prompt for each observation of a disease.
 * @example xplainerPrompts('edema', ['Kerley B lines'])
 * // [{ descriptor: 'Kerley B lines', positive: 'There are Kerley B lines indicating edema', negative: 'There are no Kerley B lines indicating edema' }]
 */
export function xplainerPrompts(disease: string, descriptors: readonly string[]): { descriptor: string; positive: string; negative: string }[] {
  if (descriptors.length === 0) throw new ConfigError(`descriptors for '${disease}': expected at least one observation, got none`);
  return descriptors.map((d) => ({
    descriptor: d,
    positive: `There are ${d} indicating ${disease}`,
    negative: `There are no ${d} indicating ${disease}`,
  }));
}

/**
 * The observations of a disease in CXR_DESCRIPTORS; an unknown disease is a ConfigError listing the known ones.
 * @example getCxrDescriptors('cardiomegaly').length // 4
 */
export function getCxrDescriptors(disease: string): readonly string[] {
  const d = (CXR_DESCRIPTORS as Record<string, readonly string[]>)[disease];
  if (!d) throw new ConfigError(`disease '${disease}': no descriptor set; expected one of ${Object.keys(CXR_DESCRIPTORS).join(', ')}`);
  return d;
}

export interface DescriptorEmbeddings {
  disease: string;
  descriptors: readonly string[];
  /** [K x D] embeddings of the positive prompts, one row per descriptor. */
  positive: MatrixLike;
  /** [K x D] embeddings of the negative prompts. */
  negative: MatrixLike;
}

export interface Explanation {
  disease: string;
  /** exp(mean_k log p_k): the diagnosis probability. */
  probability: number;
  /** Every observation with its probability, most probable first. */
  descriptors: { descriptor: string; probability: number }[];
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>, na: number): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s / (na * norm(b));
}

/**
 * Explain one image embedding [D] against each disease's observation prompts. logitScale multiplies the
 * cosine similarities before each pair's softmax (the model's own logit scale).
 * @example explainZeroShot([1, 0], [{ disease: 'x', descriptors: ['a'], positive: [[1, 0]], negative: [[0, 1]] }], 1)[0].probability // 0.731
 */
export function explainZeroShot(image: ArrayLike<number>, diseases: readonly DescriptorEmbeddings[], logitScale: number): Explanation[] {
  if (!Number.isFinite(logitScale) || logitScale <= 0) throw new ConfigError(`logitScale: expected a positive finite number, got ${logitScale}`);
  const img = asMatrix([image], 'image embedding');
  const d = img.cols;
  const ni = norm(img.data);
  if (ni === 0) throw new ShapeError('image embedding: zero norm');
  return diseases.map((dis) => {
    const pos = asMatrix(dis.positive, `${dis.disease} positive prompts`, d);
    const neg = asMatrix(dis.negative, `${dis.disease} negative prompts`, d);
    const k = dis.descriptors.length;
    if (pos.rows !== k || neg.rows !== k) throw new ShapeError(`${dis.disease}: ${k} descriptors but ${pos.rows} positive and ${neg.rows} negative embeddings`);
    let sumLog = 0;
    const descriptors = dis.descriptors.map((descriptor, i) => {
      const zp = logitScale * cosine(img.data, pos.data.subarray(i * d, (i + 1) * d), ni);
      const zn = logitScale * cosine(img.data, neg.data.subarray(i * d, (i + 1) * d), ni);
      // log softmax of the positive: -log(1 + exp(zn - zp)), computed stably
      const diff = zn - zp;
      const logP = diff > 0 ? -diff - Math.log1p(Math.exp(-diff)) : -Math.log1p(Math.exp(diff));
      sumLog += logP;
      return { descriptor, probability: Math.exp(logP) };
    });
    descriptors.sort((a, b) => b.probability - a.probability);
    return { disease: dis.disease, probability: Math.exp(sumLog / k), descriptors };
  });
}
