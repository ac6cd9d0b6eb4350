import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError, httpStatus, ConfigError } from '../src/index.ts';

test('typed errors name the file and map to HTTP codes', () => {
  const e = new DecodeError('pixel data too short', { file: 'a.dcm' });
  assert.equal(e.message, 'a.dcm: pixel data too short');
  assert.equal(e.name, 'DecodeError');
  assert.equal(e.file, 'a.dcm');
  assert.equal(httpStatus(e), 422);
  assert.equal(httpStatus(new ConfigError('x')), 400);
});
