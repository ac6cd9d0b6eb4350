// Everything papers report for a single-label classifier, from probabilities [N x C] and true classes:
// per-class (one-vs-rest) and macro AUROC with bootstrap CIs (as CheXzero reports), accuracy, balanced
// accuracy, macro F1, Matthews correlation, ECE, ROC curves and reliability bins for the HTML report.
import { ConfigError } from '../errors.ts';
import { asMatrix, type MatrixLike } from '../tasks/matrix.ts';
import { expectedCalibrationError, reliabilityBins, type ReliabilityBin } from './calibration.ts';
import { accuracy, aurocWithCI, balancedAccuracy, macroF1, matthewsCorrcoef, rocCurve, type AurocReport } from './metrics.ts';
import type { RocSeries } from './report-html.ts';

export interface ClassificationEvaluation {
  n: number;
  classes: string[];
  metrics: { accuracy: number; balancedAccuracy: number; macroF1: number; mcc: number; ece: number };
  auroc: AurocReport;
  roc: RocSeries[];
  reliability: { bins: ReliabilityBin[]; ece: number };
}

/**
 * Evaluate probabilities [N x C] against true class indices.
 * @example evaluateClassification([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]], [0, 1, 1, 1], ['a', 'b'], { resamples: 100 }).metrics.accuracy // 0.75
 */
export function evaluateClassification(probs: MatrixLike, truth: readonly number[], classes: readonly string[], opts: { resamples?: number; seed?: number } = {}): ClassificationEvaluation {
  const p = asMatrix(probs, 'probabilities', classes.length);
  if (truth.length !== p.rows) throw new ConfigError(`evaluation: ${p.rows} predictions but ${truth.length} labels`);
  const present = new Set(truth);
  if (present.size < 2) throw new ConfigError(`evaluation: the labelled set has only class ${JSON.stringify(classes[truth[0]!])}; AUROC needs positives and negatives`);
  const C = classes.length;
  const pred = Array.from({ length: p.rows }, (_, i) => {
    let best = 0;
    for (let j = 1; j < C; j++) if (p.data[i * C + j]! > p.data[i * C + best]!) best = j;
    return best;
  });
  const onehot = truth.map((t) => classes.map((_, j) => (j === t ? 1 : 0)));
  // a class absent from the labels has no AUROC: evaluate the ones present (binary: the positive class only)
  const scored = C === 2 ? [1] : classes.map((_, j) => j).filter((j) => present.has(j));
  const colScores = (j: number) => Array.from({ length: p.rows }, (_, i) => p.data[i * C + j]!);
  const auroc = aurocWithCI(
    Array.from({ length: p.rows }, (_, i) => scored.map((j) => p.data[i * C + j]!)),
    onehot.map((r) => scored.map((j) => r[j]!)),
    scored.map((j) => classes[j]!),
    { resamples: opts.resamples ?? 1000, seed: opts.seed ?? 0 },
  );
  const roc = scored.map((j, k) => {
    const c = rocCurve(colScores(j), onehot.map((r) => r[j]!));
    return { name: classes[j]!, fpr: c.fpr, tpr: c.tpr, auroc: auroc.perClass[k]!.auroc };
  });
  const ece = expectedCalibrationError(p, truth);
  return {
    n: p.rows,
    classes: [...classes],
    metrics: { accuracy: accuracy(truth, pred), balancedAccuracy: balancedAccuracy(truth, pred), macroF1: macroF1(truth, pred), mcc: matthewsCorrcoef(truth, pred), ece },
    auroc,
    roc,
    reliability: { bins: reliabilityBins(p, truth), ece },
  };
}
