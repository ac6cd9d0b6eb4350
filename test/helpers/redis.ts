// A throwaway redis-server for tests: loopback only, a free port, no persistence (--save '' --appendonly no),
// its working folder deleted on stop. Needs the Debian package `redis-server`.
//
//   const redis = await startRedis();
//   try { /* use redis.url */ } finally { await redis.stop(); }
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  url: string;
  port: number;
  stop(): Promise<void>;
}

const BINARIES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Answers PING with PONG? */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('error', () => resolve(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
  });
}

export async function startRedis(): Promise<RedisServer> {
  const binary = [process.env.CLIPMED_REDIS_SERVER, ...BINARIES].find((p) => p && existsSync(p));
  if (!binary) throw new Error(`redis-server is not installed (looked for ${BINARIES.join(', ')}); install it with: apt-get install -y redis-server`);
  const dir = mkdtempSync(join(tmpdir(), 'clipmed-redis-'));
  const port = await freePort();
  const p = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxmemory-policy', 'noeviction'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  p.stdout.on('data', (d) => (log += d));
  p.stderr.on('data', (d) => (log += d));
  const deadline = Date.now() + 20_000;
  while (!(await ping(port))) {
    if (p.exitCode !== null || Date.now() > deadline) {
      p.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not start on port ${port}:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (p.exitCode === null) {
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
