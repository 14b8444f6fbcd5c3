/**
 * A byte-rate limit as a token bucket that may run into debt: `take(n)` always succeeds and
 * returns how long the caller should wait before sending, so one large block never starves.
 * Pure apart from the injected clock.
 */
export interface RateLimiter {
  /** Milliseconds to wait before moving `bytes` (0 when within the rate). */
  take(bytes: number): number
}

export function createRateLimiter(bytesPerSecond: number, now: () => number = () => performance.now()): RateLimiter | undefined {
  if (!bytesPerSecond || bytesPerSecond <= 0) return undefined
  // Burst of a tenth of a second: enough to keep a pipeline full, small enough to hold the rate.
  const burst = Math.max(64 << 10, bytesPerSecond / 10)
  let tokens = burst
  let last = now()
  return {
    take(bytes) {
      const t = now()
      tokens = Math.min(burst, tokens + ((t - last) * bytesPerSecond) / 1000)
      last = t
      tokens -= bytes
      return tokens >= 0 ? 0 : (-tokens * 1000) / bytesPerSecond
    },
  }
}

/** Parses "40mbit", "5MiB", "800k" (bytes per second unless it says bit). */
export function parseRate(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(k|m|g)?(i)?(b|bit|bps|byte|bytes)?(\/s)?\s*$/i.exec(text)
  if (!m) throw new RangeError(`Cannot read rate "${text}": write e.g. 40mbit, 5MiB or 800k`)
  const unit = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[(m[2] ?? '').toLowerCase()]!
  const binary = m[3] ? { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase()]! : unit
  const bits = /^(bit|bps)$/i.test(m[4] ?? '') || m[4] === 'b'
  return Math.round((Number(m[1]) * binary) / (bits ? 8 : 1))
}
