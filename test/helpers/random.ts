/** A seeded PRNG for fault tests: every random choice replays from the printed seed. */

export interface Rng {
  readonly seed: number
  /** [0, 1) */
  next(): number
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number
  /** True with probability p. */
  chance(p: number): boolean
  pick<T>(items: readonly T[]): T
  /** A copy of `items` in random order. */
  shuffle<T>(items: readonly T[]): T[]
  hex(n: number): string
}

/**
 * mulberry32. The seed comes from `FAULT_SEED` when set (to replay a failure), else from the
 * clock; tests print it with t.comment.
 */
export function rng(seed: number = seedFromEnv()): Rng {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const r: Rng = {
    seed,
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
    shuffle: (items) => {
      const out = [...items]
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1))
        ;[out[i], out[j]] = [out[j]!, out[i]!]
      }
      return out
    },
    hex: (n) => Array.from({ length: n }, () => Math.floor(next() * 16).toString(16)).join(''),
  }
  return r
}

export function seedFromEnv(): number {
  const v = process.env.FAULT_SEED
  if (v && /^\d+$/.test(v)) return Number(v) >>> 0
  return (Date.now() ^ (process.pid << 16)) >>> 0
}
