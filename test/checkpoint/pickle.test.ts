import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PyGlobal, unpickle } from '../../src/checkpoint/pickle.ts';
import { readTorchZip } from '../../src/checkpoint/torch.ts';
import { DecodeError, SecurityError } from '../../src/errors.ts';
import { PickleWriter, torchSave, torchZip } from '../helpers/torch-writer.ts';
import { sampleDict } from '../fixtures/checkpoint/write-writer-sample.ts';

const opts = { file: 'p.pkl', resolveGlobal: (q: string) => new PyGlobal(q, (args: unknown[]) => ({ q, args })) };

test('decodes the value opcodes torch state dicts use', () => {
  const w = new PickleWriter().proto(2).op(0x5d).mark();
  w.str('é'); // BINUNICODE
  w.op(0x8c, 2, 0x68, 0x69); // SHORT_BINUNICODE 'hi'
  w.op(0x4a, 0xff, 0xff, 0xff, 0xff); // BININT -1
  w.op(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1); // LONG1 2^64
  w.op(0x8a, 1, 0xfe); // LONG1 -2
  w.op(0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0); // BINFLOAT 1.5
  w.op(0x4e, 0x88, 0x89); // None True False
  w.op(0x4b, 1, 0x4b, 2, 0x86); // TUPLE2
  w.op(0x8f, 0x28, 0x4b, 5, 0x90); // EMPTY_SET, ADDITEMS {5}
  w.op(0x43, 2, 9, 8); // SHORT_BINBYTES
  w.op(0x65); // APPENDS
  w.op(0x94, 0x68, 0, 0x61); // MEMOIZE, BINGET 0, APPEND (the list holds itself)
  const v = unpickle(w.stop().bytes(), opts) as unknown[];
  assert.deepEqual(v.slice(0, 11), ['é', 'hi', -1, 2n ** 64n, -2, 1.5, null, true, false, [1, 2], new Set([5])]);
  assert.deepEqual(v[11], new Uint8Array([9, 8]));
  assert.equal(v[12], v);
});

test('protocol 4 framing, STACK_GLOBAL and NEWOBJ resolve through the caller', () => {
  const w = new PickleWriter().proto(4).op(0x95, 0, 0, 0, 0, 0, 0, 0, 0).stackGlobal('collections', 'OrderedDict').emptyTuple().op(0x81);
  assert.deepEqual(unpickle(w.stop().bytes(), opts), { q: 'collections.OrderedDict', args: [] });
});

const unknown: Array<[string, number[], RegExp]> = [
  ['protocol 6', [0x80, 6, 0x4e, 0x2e], /pickle protocol 6 is not one torch.save writes/],
  ['INST (protocol 0)', [0x80, 2, 0x69], /unknown or unsupported pickle opcode 0x69 \('i'\) at offset 2/],
  ['EXT1', [0x80, 2, 0x82, 1], /opcode 0x82 at offset 2/],
  ['PERSID text form', [0x50], /opcode 0x50 \('P'\) at offset 0/],
  ['no STOP', [0x80, 2, 0x4e], /ends without STOP/],
  ['stack underflow', [0x80, 2, 0x85, 0x2e], /stack underflow/],
  ['BINGET of nothing', [0x80, 2, 0x68, 3, 0x2e], /memo key 3 was never stored/],
  ['truncated string', [0x80, 2, 0x58, 10, 0, 0, 0, 0x61], /needs 10 bytes/],
  ['leftover stack', [0x80, 2, 0x4e, 0x4e, 0x2e], /1 values left/],
  ['REDUCE of a non-callable', [0x80, 2, 0x4e, 0x29, 0x52, 0x2e], /object is not callable|not callable/],
];
for (const [what, bytes, msg] of unknown) {
  test(`${what} is a DecodeError naming the offset`, () => {
    assert.throws(() => unpickle(new Uint8Array(bytes), opts), (e: Error) => e instanceof DecodeError && msg.test(e.message) && e.message.startsWith('p.pkl: '));
  });
}

const marker = join(tmpdir(), `clipmed-pwned-${process.pid}`);
/** A malicious data.pkl: a valid state dict whose extra value is `module.name('touch marker')`. */
function evil(module: string, name: string, stackGlobal: boolean): Uint8Array {
  const w = new PickleWriter().proto(stackGlobal ? 4 : 2).op(0x7d).str('x');
  if (stackGlobal) w.stackGlobal(module, name); else w.global(module, name);
  w.mark().str(`touch ${marker}`).tuple().reduce().op(0x73).stop();
  return w.bytes();
}

const globals: Array<[string, string]> = [
  ['os', 'system'], ['posix', 'system'], ['builtins', 'eval'], ['builtins', 'exec'], ['subprocess', 'Popen'],
  ['__builtin__', 'getattr'], ['torch.storage', '_load_from_bytes'], ['torch._utils', '_rebuild_device_tensor_from_numpy'],
  ['collections', 'OrderedDict.__init__'], ['builtins', 'set'],
];
for (const [module, name] of globals) {
  for (const stackGlobal of [false, true]) {
    test(`${module}.${name} (${stackGlobal ? 'STACK_GLOBAL' : 'GLOBAL'}) in a torch zip is a SecurityError and nothing runs`, () => {
      rmSync(marker, { force: true });
      const zip = torchZip(evil(module, name, stackGlobal));
      assert.throws(() => readTorchZip(zip, 'evil.pt'), (e: Error) => e instanceof SecurityError && e.message.startsWith('evil.pt: ') && e.message.includes(`${module}.${name}`));
      assert.equal(existsSync(marker), false);
      // a resolver that would implement any name is never even consulted for names off the allowlist
      const calls: unknown[][] = [];
      const naive = { file: 'n.pkl', resolveGlobal: (q: string) => new PyGlobal(q, (args: unknown[]) => calls.push([q, ...args])) };
      assert.throws(() => unpickle(evil(module, name, stackGlobal), naive), SecurityError);
      assert.equal(calls.length, 0);
    });
  }
}

test('a malicious global inside an otherwise valid dict is refused at its own opcode', () => {
  assert.equal(readTorchZip(torchSave(sampleDict()), 'good.pt').size, 4);
  const w = new PickleWriter().proto(2).op(0x7d).mark().str('a').int(1).str('b').global('os', 'system').str('id').op(0x85).reduce().op(0x75).stop();
  assert.throws(() => readTorchZip(torchZip(w.bytes()), 'e.pt'), (e: Error) => e instanceof SecurityError && /e\.pt: .*os\.system at offset 18/.test(e.message));
});
