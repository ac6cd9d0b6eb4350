// The clipmed browser app. Server mode calls the API of the server the page came from; local mode runs the
// model in the page (local-model.ts) and no image or result leaves it. URL: ?mode=local|server&model=&labels=a,b
// clipmed's browser entry first; the pipeline modules below import no Node module either (not yet in the entry)
import { getLabelSet, parseWindow, type Window } from '../../src/browser.ts';
import { buildClassifier, classifyRasters, scoringFor } from '../../src/pipeline/zero-shot.ts';
import { heatmaps } from '../../src/pipeline/heatmap.ts';
import { overlayOnOriginal, placement } from '../../src/cli/overlay.ts';
import { Api } from './api.ts';
import { openFile, rasterOf, type OpenedFile } from './decode.ts';
import { LocalModel, type ServedModel } from './local-model.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const ui = {
  mode: $<HTMLSelectElement>('mode'),
  model: $<HTMLSelectElement>('model'),
  token: $<HTMLInputElement>('token'),
  device: $('device'),
  drop: $('drop'),
  files: $<HTMLInputElement>('files'),
  fileList: $('file-list'),
  canvas: $<HTMLCanvasElement>('image'),
  window: $<HTMLSelectElement>('window'),
  frame: $<HTMLInputElement>('frame'),
  frameOut: $<HTMLOutputElement>('frame-out'),
  info: $('image-info'),
  labels: $<HTMLInputElement>('labels'),
  labelSet: $<HTMLSelectElement>('label-set'),
  multilabel: $<HTMLInputElement>('multilabel'),
  classify: $<HTMLButtonElement>('classify'),
  results: document.querySelector('#results tbody') as HTMLTableSectionElement,
  prompt: $<HTMLInputElement>('prompt'),
  alpha: $<HTMLInputElement>('alpha'),
  heatmapRun: $<HTMLButtonElement>('heatmap-run'),
  heatmapCanvas: $<HTMLCanvasElement>('heatmap-canvas'),
  query: $<HTMLInputElement>('query'),
  searchRun: $<HTMLButtonElement>('search-run'),
  searchImage: $<HTMLButtonElement>('search-image'),
  hits: $('hits'),
  status: $('status'),
};

ui.token.value = sessionStorage.getItem('clipmed-token') ?? '';
ui.token.addEventListener('change', () => sessionStorage.setItem('clipmed-token', ui.token.value));
const api = new Api('', () => ui.token.value);
const opened: OpenedFile[] = [];
let current = -1;
const local = new Map<string, Promise<LocalModel>>();
let served: ServedModel[] = [];

function status(text: string, state: 'idle' | 'busy' | 'done' | 'error') {
  ui.status.textContent = text;
  ui.status.dataset.state = state;
}

/** Run a UI action with its status; errors are shown, never thrown away. */
async function act(busy: string, fn: () => Promise<string>) {
  status(busy, 'busy');
  try {
    status(await fn(), 'done');
  } catch (err) {
    status(err instanceof Error ? err.message : String(err), 'error');
  }
}

const mode = () => ui.mode.value as 'local' | 'server';
const chosenWindow = (): Window | undefined => (ui.window.value ? parseWindow(ui.window.value) : undefined);

function localModel(): Promise<LocalModel> {
  const name = ui.model.value;
  let m = local.get(name);
  if (!m) {
    m = LocalModel.load(api, served.find((s) => s.name === name) ?? { name }, params.get('device') ?? undefined);
    m.catch(() => local.delete(name));
    local.set(name, m);
  }
  return m;
}

// ---- viewer
function show(index: number) {
  current = index;
  const f = opened[index];
  [...ui.fileList.querySelectorAll('button')].forEach((b, i) => b.setAttribute('aria-pressed', String(i === index)));
  if (!f) return;
  ui.frame.max = String(f.count - 1);
  ui.frame.value = String(f.defaultIndex);
  draw();
}

function draw() {
  const f = opened[current];
  if (!f) return;
  const i = Number(ui.frame.value);
  const r = rasterOf(f, i, chosenWindow());
  ui.canvas.width = r.width;
  ui.canvas.height = r.height;
  const rgba = new ImageData(r.width, r.height);
  for (let p = 0; p < r.width * r.height; p++) {
    for (let c = 0; c < 3; c++) rgba.data[4 * p + c] = r.data[p * r.channels + (r.channels === 3 ? c : 0)]!;
    rgba.data[4 * p + 3] = 255;
  }
  ui.canvas.getContext('2d')!.putImageData(rgba, 0, 0);
  ui.frameOut.textContent = `${i + 1} / ${f.count}`;
  const img = f.image(i);
  ui.info.textContent = `${f.name}: ${f.kind}, ${img.columns} x ${img.rows}, ${img.photometric}${img.meta.modality ? `, ${String(img.meta.modality)}` : ''}`;
}

ui.window.addEventListener('change', draw);
ui.frame.addEventListener('input', draw);

async function addFiles(files: File[]) {
  await act(`opening ${files.length} file(s)`, async () => {
    const failed: string[] = [];
    for (const file of files) {
      try {
        opened.push(await openFile(file));
        const li = document.createElement('li');
        const b = document.createElement('button');
        b.textContent = file.name;
        const at = opened.length - 1;
        b.addEventListener('click', () => show(at));
        li.append(b);
        ui.fileList.append(li);
      } catch (err) {
        failed.push(`${file.name}: ${err instanceof Error ? err.message : err}`);
        const li = document.createElement('li');
        li.className = 'failed';
        li.textContent = `${file.name} (cannot open)`;
        ui.fileList.append(li);
      }
    }
    show(opened.length - 1 - (files.length - failed.length - 1));
    if (failed.length) throw new Error(failed.join('; '));
    return `opened ${files.length} file(s)`;
  });
  if (labelsGiven()) await classify();
}

ui.files.addEventListener('change', () => addFiles([...(ui.files.files ?? [])]));
ui.drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  ui.drop.classList.add('over');
});
ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
ui.drop.addEventListener('drop', (e) => {
  e.preventDefault();
  ui.drop.classList.remove('over');
  addFiles([...(e.dataTransfer?.files ?? [])]);
});

// ---- findings
const labelsGiven = () => ui.labelSet.value !== '' || ui.labels.value.split(',').filter((s) => s.trim()).length > 0;

interface Row {
  input: string;
  scores: Record<string, number>;
}

function render(rows: Row[], failures: Array<{ input: string; error: string }>) {
  ui.results.replaceChildren();
  for (const r of rows) {
    for (const [label, score] of Object.entries(r.scores).sort((a, b) => b[1] - a[1])) {
      const tr = document.createElement('tr');
      tr.className = 'finding';
      tr.dataset.input = r.input;
      tr.dataset.label = label;
      tr.dataset.score = String(score);
      const bar = document.createElement('span');
      bar.style.width = `${Math.round(score * 120)}px`;
      for (const text of [r.input, label, `${(score * 100).toFixed(1)}%`]) tr.append(Object.assign(document.createElement('td'), { textContent: text }));
      const td = document.createElement('td');
      td.className = 'bar';
      td.append(bar);
      tr.append(td);
      ui.results.append(tr);
    }
  }
  for (const f of failures) {
    const tr = document.createElement('tr');
    tr.className = 'failure';
    tr.append(Object.assign(document.createElement('td'), { textContent: f.input }), Object.assign(document.createElement('td'), { textContent: f.error, colSpan: 3 }));
    ui.results.append(tr);
  }
}

async function classify() {
  if (opened.length === 0) return status('open an image first', 'error');
  await act(`classifying ${opened.length} image(s) (${mode()} mode)`, async () => {
    const labels = ui.labels.value;
    const labelSet = ui.labelSet.value;
    const multilabel = ui.multilabel.checked;
    if (mode() === 'server') {
      const form = new FormData();
      for (const f of opened) form.append('file', f.file, f.name);
      if (labelSet) form.append('label_set', labelSet);
      else form.append('labels', labels);
      if (multilabel) form.append('multilabel', 'true');
      if (ui.window.value) form.append('window', ui.window.value);
      form.append('model', ui.model.value);
      const out = await (await api.post('/v1/classify', form)).json();
      render(out.results, out.failures);
      return `classified ${out.results.length} image(s) on the server with ${out.model}`;
    }
    const m = await localModel();
    const model = m.asClipModel();
    const wanted = labelSet ? [...getLabelSet(labelSet)] : labels.split(',');
    // an unticked box leaves the choice to the model's registry entry, as the CLI without --multilabel
    const classifier = await buildClassifier(model, { labels: wanted, templates: [], multilabel: multilabel || undefined });
    const scoring = scoringFor(model, multilabel);
    const rows: Row[] = [];
    const win = chosenWindow();
    for (const f of opened) {
      const probs = (await classifyRasters(model, [rasterOf(f, f.defaultIndex, win)], classifier, scoring)).probs.data;
      rows.push({ input: f.image(f.defaultIndex).source, scores: Object.fromEntries(classifier.labels.map((l, j) => [l, probs[j]!])) });
    }
    render(rows, []);
    return `classified ${rows.length} image(s) in this page (${m.device}) with ${m.source.name}`;
  });
}
ui.classify.addEventListener('click', () => classify());

// ---- heatmap
async function heatmap() {
  const f = opened[current];
  if (!f) return status('open an image first', 'error');
  const prompt = ui.prompt.value.trim();
  if (!prompt) return status('type a prompt', 'error');
  await act(`heatmap for "${prompt}"`, async () => {
    const alpha = Number(ui.alpha.value);
    if (mode() === 'server') {
      const form = new FormData();
      form.append('file', f.file, f.name);
      form.append('prompt', prompt);
      form.append('alpha', String(alpha));
      form.append('model', ui.model.value);
      if (ui.window.value) form.append('window', ui.window.value);
      const bitmap = await createImageBitmap(await (await api.post('/v1/heatmap', form)).blob());
      ui.heatmapCanvas.width = bitmap.width;
      ui.heatmapCanvas.height = bitmap.height;
      ui.heatmapCanvas.getContext('2d')!.drawImage(bitmap, 0, 0);
      return `heatmap for "${prompt}" from the server`;
    }
    const m = await localModel();
    const raster = rasterOf(f, f.defaultIndex, chosenWindow());
    const r = await heatmaps(m.asClipModel(), raster, [prompt], alpha);
    // over the image at its size, as the server and `clipmed heatmap` draw it
    const where = placement(raster.width, raster.height, r.width, r.height, m.resizeMode);
    const rgb = overlayOnOriginal(raster, r.heatmaps[0]!.map, r.width, r.height, where, alpha);
    const img = new ImageData(raster.width, raster.height);
    for (let p = 0; p < raster.width * raster.height; p++) {
      img.data.set(rgb.subarray(3 * p, 3 * p + 3), 4 * p);
      img.data[4 * p + 3] = 255;
    }
    ui.heatmapCanvas.width = raster.width;
    ui.heatmapCanvas.height = raster.height;
    ui.heatmapCanvas.getContext('2d')!.putImageData(img, 0, 0);
    return `heatmap for "${prompt}" computed in this page`;
  });
}
ui.heatmapRun.addEventListener('click', () => heatmap());

// ---- search
function renderHits(out: { results?: Array<{ path: string; score: number; meta?: Record<string, unknown> }> }) {
  ui.hits.replaceChildren(
    ...(out.results ?? []).map((h) => {
      const li = document.createElement('li');
      li.className = 'hit';
      li.dataset.path = h.path;
      li.dataset.score = String(h.score);
      const extra = [h.meta?.label, h.meta?.modality].filter((x) => x !== undefined && x !== null).join(', ');
      li.textContent = `${h.score.toFixed(4)}  ${h.path}${extra ? `  [${extra}]` : ''}`;
      return li;
    }),
  );
  return `${ui.hits.children.length} hit(s)`;
}
const serverOnly = () => {
  if (mode() === 'local') throw new Error("search uses the server's index: switch to server mode");
};
ui.searchRun.addEventListener('click', () =>
  act('searching', async () => {
    serverOnly();
    return renderHits(await (await api.post('/v1/search', JSON.stringify({ text: ui.query.value, model: ui.model.value, k: 10 }), true)).json());
  }),
);
ui.searchImage.addEventListener('click', () =>
  act('searching by image', async () => {
    serverOnly();
    const f = opened[current];
    if (!f) throw new Error('open an image first');
    const form = new FormData();
    form.append('file', f.file, f.name);
    form.append('model', ui.model.value);
    form.append('k', '10');
    return renderHits(await (await api.post('/v1/search', form)).json());
  }),
);

// ---- start: models from the server, settings from the URL
/** The server's models into the picker; in local mode, the chosen one loaded into the page. */
async function loadModels() {
  await act('loading the model list', async () => {
    const { models } = await (await api.get('/v1/models')).json();
    served = models;
    ui.model.replaceChildren(...models.map((m: { name: string }) => Object.assign(document.createElement('option'), { value: m.name, textContent: m.name })));
    const wanted = params.get('model');
    if (wanted) {
      if (!models.some((m: { name: string }) => m.name === wanted)) throw new Error(`no model '${wanted}' on this server`);
      ui.model.value = wanted;
    }
    if (mode() === 'local') {
      const m = await localModel();
      return `model ${m.source.name} loaded into this page (${m.device})`;
    }
    return `${models.length} model(s) on the server`;
  });
}

async function start() {
  ui.mode.value = params.get('mode') === 'local' ? 'local' : 'server';
  if (params.get('labels')) ui.labels.value = params.get('labels')!;
  if (params.get('label_set')) ui.labelSet.value = params.get('label_set')!;
  if (params.get('multilabel') === 'true') ui.multilabel.checked = true;
  const describe = () => (ui.device.textContent = mode() === 'local' ? 'model runs in this page' : 'model runs on the server');
  ui.mode.addEventListener('change', () => {
    params.set('mode', mode());
    history.replaceState(null, '', `?${params}`);
    describe();
    if (mode() === 'local' && ui.model.value) act('loading the model into this page', async () => `model ${(await localModel()).source.name} loaded into this page (${(await localModel()).device})`);
  });
  ui.model.addEventListener('change', () => {
    params.set('model', ui.model.value);
    history.replaceState(null, '', `?${params}`);
  });
  // a token typed after a 401 takes effect at once
  ui.token.addEventListener('change', () => loadModels());
  describe();
  await loadModels();
  document.body.dataset.ready = 'true';
}
start();
