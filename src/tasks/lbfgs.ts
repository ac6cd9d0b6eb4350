// Limited-memory BFGS (Nocedal 1980; Liu & Nocedal 1989; Nocedal & Wright, "Numerical Optimization",
// Alg. 7.4 two-loop recursion) with a backtracking line search on the Armijo condition. Curvature pairs
// with s·y <= 0 are not stored, which keeps the implicit Hessian positive definite without a Wolfe search.
import { ConfigError } from '../errors.ts';

export interface LbfgsOptions {
  /** Iterations at most (scikit-learn's max_iter). */
  maxIter?: number;
  /** Stop when the largest absolute gradient component is below this (scikit-learn's tol for lbfgs is on the projected gradient). */
  gtol?: number;
  /** Memory: curvature pairs kept. */
  m?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  f: number;
  iterations: number;
  converged: boolean;
}

/**
 * Minimise a smooth function. `fg(x, grad)` returns f(x) and writes the gradient into grad.
 * @example minimizeLbfgs((x, g) => { g[0] = 2 * (x[0] - 3); return (x[0] - 3) ** 2; }, new Float64Array(1)).x // [3]
 */
export function minimizeLbfgs(fg: (x: Float64Array, grad: Float64Array) => number, x0: Float64Array, opts: LbfgsOptions = {}): LbfgsResult {
  const maxIter = opts.maxIter ?? 1000;
  const gtol = opts.gtol ?? 1e-6;
  const m = opts.m ?? 10;
  if (!Number.isInteger(maxIter) || maxIter < 1) throw new ConfigError(`maxIter: expected a positive integer, got ${maxIter}`);
  const n = x0.length;
  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  let f = fg(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const d = new Float64Array(n);
  const xNew = new Float64Array(n);
  const gNew = new Float64Array(n);
  const alphaHist = new Float64Array(m);
  const dot = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[i]! * b[i]!;
    return s;
  };
  const maxAbs = (a: Float64Array) => a.reduce((mx, v) => Math.max(mx, Math.abs(v)), 0);
  let it = 0;
  for (; it < maxIter; it++) {
    if (maxAbs(g) < gtol) return { x, f, iterations: it, converged: true };
    // two-loop recursion: d = -H g
    for (let i = 0; i < n; i++) d[i] = -g[i]!;
    for (let k = S.length - 1; k >= 0; k--) {
      const a = rho[k]! * dot(S[k]!, d);
      alphaHist[k] = a;
      for (let i = 0; i < n; i++) d[i]! -= a * Y[k]![i]!;
    }
    const gamma = S.length > 0 ? dot(S[S.length - 1]!, Y[Y.length - 1]!) / dot(Y[Y.length - 1]!, Y[Y.length - 1]!) : 1 / Math.max(1, Math.sqrt(dot(g, g)));
    for (let i = 0; i < n; i++) d[i]! *= gamma;
    for (let k = 0; k < S.length; k++) {
      const b = rho[k]! * dot(Y[k]!, d);
      for (let i = 0; i < n; i++) d[i]! += S[k]![i]! * (alphaHist[k]! - b);
    }
    let slope = dot(g, d);
    if (slope >= 0) {
      // not a descent direction (numerical trouble): restart from steepest descent
      S.length = 0; Y.length = 0; rho.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i]!;
      slope = dot(g, d);
    }
    let step = 1;
    let fNew = Infinity;
    for (let ls = 0; ls < 60; ls++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i]! + step * d[i]!;
      fNew = fg(xNew, gNew);
      if (fNew <= f + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fNew <= f + 1e-4 * step * slope)) return { x, f, iterations: it, converged: maxAbs(g) < gtol * 100 };
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) { s[i] = xNew[i]! - x[i]!; y[i] = gNew[i]! - g[i]!; }
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      if (S.length === m) { S.shift(); Y.shift(); rho.shift(); }
      S.push(s); Y.push(y); rho.push(1 / sy);
    }
    const fPrev = f;
    x.set(xNew); g.set(gNew); f = fNew;
    if (Math.abs(fPrev - f) <= 1e-15 * Math.max(1, Math.abs(f))) return { x, f, iterations: it + 1, converged: maxAbs(g) < gtol * 100 };
  }
  return { x, f, iterations: it, converged: maxAbs(g) < gtol };
}
