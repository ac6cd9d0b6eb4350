// Copies a `clipmed train` output folder to the demo model's folder with the weights stored as float16
// (open_clip_model.safetensors, F16; open_clip and clipmed read it upcast to float32), plus its config,
// metrics.jsonl and loss.svg.
// Usage: node --import tsx models/clipmed-cxr-tiny/export-fp16.ts TRAIN_OUT_DIR DEST_DIR
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.ts';

const [from, to] = process.argv.slice(2);
if (!from || !to) throw new Error('usage: export-fp16.ts TRAIN_OUT_DIR DEST_DIR');
const file = join(from, 'open_clip_model.safetensors');
const sd = readSafetensors(readFileSync(file), file);
writeFileSync(join(to, 'open_clip_model.safetensors'), writeSafetensors(sd, { dtype: 'float16' }));
for (const f of ['open_clip_config.json', 'metrics.jsonl', 'loss.svg']) copyFileSync(join(from, f), join(to, f));
console.log(`${to}: ${[...sd.values()].reduce((n, t) => n + t.data.length, 0)} parameters as float16`);
