// A small seeded pseudo-random generator so that bootstrap intervals, randomised conformal sets and
// synthetic tests are reproducible. mulberry32 (Tommy Ettinger's 32-bit generator, public domain):
// one 32-bit state, period 2^32, good enough for resampling, not for cryptography.
import { ConfigError } from '../errors.ts';

/** A function returning uniform numbers in [0, 1). */
export type Random = () => number;

/**
 * A seeded uniform generator in [0, 1).
 * @example const r = mulberry32(42); r() // 0.6011037519201636
 */
export function mulberry32(seed: number): Random {
  if (!Number.isInteger(seed)) throw new ConfigError(`seed: expected an integer, got ${seed}`);
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A standard normal sample (Box-Muller), for synthetic data.
 * @example gaussian(mulberry32(1)) // a finite number
 */
export function gaussian(rng: Random): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * An integer in [0, n).
 * @example randomInt(mulberry32(1), 10) // an integer 0..9
 */
export function randomInt(rng: Random, n: number): number {
  return Math.floor(rng() * n);
}
