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

