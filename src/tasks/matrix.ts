// Small dense-matrix helpers shared by the tasks: a row-major Float32Array with its shape, input checks
// (shape, NaN) that throw typed errors, L2 normalisation, products and softmax. Sums run in float64.
import { ShapeError } from '../errors.ts';

/** A row-major matrix: element (i, j) is data[i * cols + j]. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/** What the tasks accept for a matrix: a Matrix or a list of equal-length rows (e.g. embeddings). */
export type MatrixLike = Matrix | readonly ArrayLike<number>[];

function isMatrix(x: MatrixLike): x is Matrix {
  return !Array.isArray(x) && typeof (x as Matrix).rows === 'number';
}

/** Throw a ShapeError naming `name` if any value is NaN or infinite. */
export function assertFinite(values: ArrayLike<number>, name: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) throw new ShapeError(`${name}: value at index ${i} is ${values[i]}, expected a finite number`);
  }
}

/**
 * Check and convert to a Matrix (copying rows into one Float32Array). Throws ShapeError on ragged rows,
 * an empty input, a wrong column count (`cols`) or a non-finite value.
 * @example asMatrix([[1, 2], [3, 4]], 'x') // { rows: 2, cols: 2, data: Float32Array [1, 2, 3, 4] }
 */
export function asMatrix(x: MatrixLike, name: string, cols?: number): Matrix {
  let m: Matrix;
  if (isMatrix(x)) {
    if (x.data.length !== x.rows * x.cols) throw new ShapeError(`${name}: data has ${x.data.length} values, expected rows*cols = ${x.rows}*${x.cols}`);
    m = x;
  } else {
    if (x.length === 0) throw new ShapeError(`${name}: expected at least one row, got none`);
    const c = x[0]!.length;
    const data = new Float32Array(x.length * c);
    x.forEach((row, i) => {
      if (row.length !== c) throw new ShapeError(`${name}: row ${i} has ${row.length} values, expected ${c} like row 0`);
      for (let j = 0; j < c; j++) data[i * c + j] = row[j]!;
    });
    m = { rows: x.length, cols: c, data };
  }
  if (m.rows === 0 || m.cols === 0) throw new ShapeError(`${name}: empty matrix [${m.rows} x ${m.cols}]`);
  if (cols !== undefined && m.cols !== cols) throw new ShapeError(`${name}: expected ${cols} columns, got ${m.cols}`);
  assertFinite(m.data, name);
  return m;
}

/**
 * View a flat row-major buffer (e.g. the runtime's [n, dim] embeddings) as a Matrix, without copying.
 * @example fromFlat(Float32Array.of(1, 2, 3, 4, 5, 6), 3) // { rows: 2, cols: 3, data: Float32Array [1, 2, 3, 4, 5, 6] }
 */
export function fromFlat(data: Float32Array, cols: number, name = 'embeddings'): Matrix {
  if (!Number.isInteger(cols) || cols < 1) throw new ShapeError(`${name}: expected a positive integer row length, got ${cols}`);
  if (data.length === 0 || data.length % cols !== 0) throw new ShapeError(`${name}: ${data.length} values is not a whole number of rows of ${cols}`);
  return asMatrix({ rows: data.length / cols, cols, data }, name);
}

/** Row i of a matrix, as a view. */
export function row(m: Matrix, i: number): Float32Array {
  return m.data.subarray(i * m.cols, (i + 1) * m.cols);
}

/** Rows as plain arrays (for JSON). */
export function toRows(m: Matrix): number[][] {
  return Array.from({ length: m.rows }, (_, i) => Array.from(row(m, i)));
}

/** L2 norm of a vector. */
export function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/**
 * Each row divided by its L2 norm. A zero row cannot be normalised and is a ShapeError.
 * @example normalizeRows(asMatrix([[3, 4]], 'x')).data // Float32Array [0.6, 0.8]
 */
export function normalizeRows(m: Matrix, name = 'matrix'): Matrix {
  const out = new Float32Array(m.data.length);
  for (let i = 0; i < m.rows; i++) {
    const r = row(m, i);
    const n = norm(r);
    if (n === 0) throw new ShapeError(`${name}: row ${i} has zero norm and cannot be L2-normalised`);
    for (let j = 0; j < m.cols; j++) out[i * m.cols + j] = r[j]! / n;
  }
  return { rows: m.rows, cols: m.cols, data: out };
}

/** a [n x k] times b [k x m] → [n x m]. */
export function matmul(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new ShapeError(`matmul: [${a.rows} x ${a.cols}] times [${b.rows} x ${b.cols}] needs inner sizes to agree`);
  const out = new Float32Array(a.rows * b.cols);
  const acc = new Float64Array(b.cols);
  for (let i = 0; i < a.rows; i++) {
    acc.fill(0);
    for (let k = 0; k < a.cols; k++) {
      const v = a.data[i * a.cols + k]!;
      const off = k * b.cols;
      for (let j = 0; j < b.cols; j++) acc[j]! += v * b.data[off + j]!;
    }
    out.set(acc, i * b.cols);
  }
  return { rows: a.rows, cols: b.cols, data: out };
}

/** a [n x k] times b^T where b is [m x k] → [n x m] (row-wise dot products). */
export function matmulTransB(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.cols) throw new ShapeError(`matmulTransB: [${a.rows} x ${a.cols}] and [${b.rows} x ${b.cols}] need the same number of columns`);
  const out = new Float32Array(a.rows * b.rows);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.rows; j++) {
      let s = 0;
      for (let k = 0; k < a.cols; k++) s += a.data[i * a.cols + k]! * b.data[j * b.cols + k]!;
      out[i * b.rows + j] = s;
    }
  }
  return { rows: a.rows, cols: b.rows, data: out };
}

/** Transpose [r x c] → [c x r]. */
export function transpose(m: Matrix): Matrix {
  const out = new Float32Array(m.data.length);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out[j * m.rows + i] = m.data[i * m.cols + j]!;
  return { rows: m.cols, cols: m.rows, data: out };
}

/**
 * Softmax of each row (max-subtracted for stability).
 * @example softmaxRows(asMatrix([[0, Math.log(3)]], 'x')).data // Float32Array [0.25, 0.75]
 */
export function softmaxRows(m: Matrix): Matrix {
  const out = new Float32Array(m.data.length);
  for (let i = 0; i < m.rows; i++) {
    const r = row(m, i);
    let mx = -Infinity;
    for (const v of r) mx = Math.max(mx, v);
    let s = 0;
    for (const v of r) s += Math.exp(v - mx);
    for (let j = 0; j < m.cols; j++) out[i * m.cols + j] = Math.exp(r[j]! - mx) / s;
  }
  return { rows: m.rows, cols: m.cols, data: out };
}

/** Check that labels are integers in [0, numClasses) and as many as `n`. */
export function assertLabels(labels: ArrayLike<number>, numClasses: number, name: string, n?: number): void {
  if (n !== undefined && labels.length !== n) throw new ShapeError(`${name}: ${labels.length} labels for ${n} rows`);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) throw new ShapeError(`${name}: label ${y} at index ${i} is not an integer in [0, ${numClasses})`);
  }
}
