#!/usr/bin/env node
// Load test of `clipmed serve` (not a timed test): N concurrent clients POST /v1/classify for D seconds.
// Prints p50/p99 latency, throughput, errors and the server's resident memory (sampled every second), and
// exits 1 on any error or non-2xx answer.
// Usage: node bench/serve.load.mjs [--model DIR] [--connections 32] [--duration 60] [--image FILE]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: o } = parseArgs({
  options: {
    model: { type: 'string', default: `${root}../shared/fixtures/open_clip/tiny-quickgelu` },
    image: { type: 'string', default: `${root}../shared/data/pneumonia-cxr/test/PNEUMONIA/person100_bacteria_475.jpeg` },
    connections: { type: 'string', default: '32' },
    duration: { type: 'string', default: '60' },
    labels: { type: 'string', default: 'normal,pneumonia,pleural effusion' },
  },
});

const server = spawn(process.execPath, [`${root}bin/clipmed.js`, 'serve', '--model', o.model, '--port', '0', '--quiet'], { stdio: ['ignore', 'inherit', 'pipe'] });
const url = await new Promise((resolve, reject) => {
  let err = '';
  server.stderr.on('data', (d) => {
    err += d;
    const m = /serving .*? at (http:\/\/[\w.:[\]-]+)/.exec(err);
    if (m) resolve(m[1]);
  });
  server.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${err}`)));
});

const rssMiB = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};
const body = readFileSync(o.image);
const path = `/v1/classify?labels=${encodeURIComponent(o.labels)}&filename=load.jpeg`;
// warm up: graphs loaded, the classifier's prompts embedded
const warm = await fetch(url + path, { method: 'POST', body, headers: { 'content-type': 'image/jpeg' } });
if (warm.status !== 200) throw new Error(`warm-up request: ${warm.status} ${await warm.text()}`);
const rssStart = rssMiB();
const samples = [rssStart];
const sampler = setInterval(() => samples.push(rssMiB()), 1000);

const result = await autocannon({
  url: url + path,
  method: 'POST',
  body,
  headers: { 'content-type': 'image/jpeg' },
  connections: Number(o.connections),
  duration: Number(o.duration),
});
clearInterval(sampler);
samples.push(rssMiB());
server.kill('SIGTERM');

const summary = {
  connections: Number(o.connections),
  durationS: Number(o.duration),
  requests: result.requests.total,
  throughputRps: Number(result.requests.average.toFixed(1)),
  latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
  errors: result.errors,
  timeouts: result.timeouts,
  non2xx: result.non2xx,
  rssMiB: { start: Math.round(rssStart), max: Math.round(Math.max(...samples)), end: Math.round(samples.at(-1)) },
};
console.log(JSON.stringify(summary, null, 2));
process.exit(summary.errors + summary.timeouts + summary.non2xx === 0 ? 0 : 1);
