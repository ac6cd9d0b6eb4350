// The Node side of graph output: a built graph as two files, the model and its weights beside it as ONNX
// external data (`<path>.data`). The builder (src/graph/builder.ts) gives the bytes; this writes them.
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import type { BuiltGraph, GraphBuilder } from '../graph/builder.ts';

/**
 * Write a graph to `path` with every initializer over 1 KiB stored in `path + '.data'`, which the model names
 * by its base name (ONNX Runtime looks for it beside the model). Both files are written under temporary names
 * and renamed, the model last, so a reader never sees a model without its weights.
 * @example writeGraphFiles(buildVisionGraph(cfg, weights), 'cache/vision.onnx') // vision.onnx + vision.onnx.data
 */
export function writeGraphFiles(graph: BuiltGraph | GraphBuilder, path: string): void {
  const { model, data } = graph.toExternalParts(`${basename(path)}.data`);
  const dataTmp = `${path}.data.${process.pid}.tmp`;
  const fd = openSync(dataTmp, 'w');
  try {
    for (const chunk of data) writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
  renameSync(dataTmp, `${path}.data`);
  const modelTmp = `${path}.${process.pid}.tmp`;
  writeFileSync(modelTmp, model);
  renameSync(modelTmp, path);
}
