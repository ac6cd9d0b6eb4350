// Lightning checkpoints: the classes their pickles name (omegaconf, pytorch_lightning, typing.Any, ...) are
// recorded as inert data, never called, and hyper_parameters read back as plain config; any other global is
// still refused. The real case is GLoRIA's fixture, saved by torch.save with a real OmegaConf DictConfig.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { checkpointHyperParameters, inertLightningGlobal, plainConfig } from '../../src/checkpoint/lightning.ts';
import { PyGlobal, PyObject, unpickle } from '../../src/checkpoint/pickle.ts';
import { readTorchObject, readTorchZip } from '../../src/checkpoint/torch.ts';
import { SecurityError } from '../../src/errors.ts';
import { PickleWriter } from '../helpers/torch-writer.ts';

const CKPT = new URL('../fixtures/gloria-model/chexpert_resnet50.ckpt', import.meta.url).pathname;
const opts = { file: 'x.ckpt', resolveGlobal: () => undefined, inertGlobal: inertLightningGlobal };

test('lightning: an AttributeDict and a Namespace are recorded, not built, and read back as plain config', () => {
  const w = new PickleWriter().proto(2);
  w.global('pytorch_lightning.utilities.parsing', 'AttributeDict').emptyTuple().op(0x81); // NEWOBJ
  w.mark().str('lr').int(5).str('args');
  w.global('argparse', 'Namespace').emptyTuple().op(0x81).op(0x7d).str('depth').int(3).op(0x73).op(0x62); // {} depth=3, BUILD
  w.op(0x75).stop(); // SETITEMS
  const obj = unpickle(w.bytes(), opts);
  assert.ok(obj instanceof PyObject && obj.qualname === 'pytorch_lightning.utilities.parsing.AttributeDict');
  assert.deepEqual(plainConfig(obj), { lr: 5, args: { depth: 3 } });
});

test('lightning: REDUCE of a recorded class runs nothing; globals off both lists are still refused', () => {
  const call = new PickleWriter().proto(2).global('pytorch_lightning.callbacks', 'ModelCheckpoint').mark().str('rm -rf /').tuple().reduce().stop();
  const r = unpickle(call.bytes(), opts) as PyObject;
  assert.deepEqual([r.qualname, r.args], ['pytorch_lightning.callbacks.ModelCheckpoint', ['rm -rf /']]);
  for (const [m, n] of [['os', 'system'], ['builtins', 'eval'], ['builtins', 'set'], ['omegaconf_evil', 'x'], ['typing', 'get_type_hints']]) {
    const evil = new PickleWriter().proto(2).global(m!, n!).mark().str('x').tuple().reduce().stop();
    assert.throws(() => unpickle(evil.bytes(), opts), (e: unknown) => e instanceof SecurityError && (e as Error).message.includes(`${m}.${n}`), `${m}.${n}`);
  }
});

test('lightning: GLoRIA\'s checkpoint - OmegaConf hyper_parameters, callback classes as keys, optimizer tensors beside the weights', () => {
  const bytes = new Uint8Array(readFileSync(CKPT));
  const obj = readTorchObject(bytes, CKPT) as Map<unknown, unknown>;
  assert.equal(obj.get('epoch'), 11);
  assert.ok(obj.get('hparams_type') instanceof PyGlobal && (obj.get('hparams_type') as PyGlobal).qualname === 'omegaconf.dictconfig.DictConfig');
  const callbacks = obj.get('callbacks') as Map<unknown, unknown>;
  assert.deepEqual([...callbacks.keys()].map((k) => (k as PyGlobal).qualname), ['pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint']);
  const opt = (obj.get('optimizer_states') as Array<Map<string, Map<number, Map<string, { shape: number[] }>>>>)[0]!;
  assert.deepEqual(opt.get('state')!.get(0)!.get('exp_avg')!.shape, [3, 4]);
  const sd = readTorchZip(bytes, CKPT);
  assert.ok([...sd.keys()].every((k) => k.startsWith('gloria.')));
  const hp = checkpointHyperParameters(sd) as Record<string, Record<string, Record<string, unknown>>>;
  assert.equal(hp.phase as unknown, 'pretrain');
  assert.deepEqual(hp.model!.gloria, { local_loss_weight: 1, global_loss_weight: 1, temp1: 4, temp2: 5, temp3: 10 });
  assert.equal(hp.lightning!.trainer!.precision, 16);
});
