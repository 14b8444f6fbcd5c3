import { describe, expect, it } from 'vitest'
import { parseRate } from '../../src/core/index.js'
import { createRateLimiter } from '../../src/swarm/index.js'

describe('parseRate()', () => {
  it.each([
    ['800k', 800_000],
    ['800K', 800_000],
    ['5M', 5_000_000],
    ['5MB', 5_000_000],
    ['5 MB/s', 5_000_000],
    ['5MiB', 5 * 2 ** 20],
    ['1GiB', 2 ** 30],
    ['2kiB', 2048],
    ['40mbit', 5_000_000],
    ['40Mbit', 5_000_000],
    ['40mbps', 5_000_000],
    ['10Gbit', 1_250_000_000],
    ['1000', 1000],
    ['1.5M', 1_500_000],
    ['10bytes', 10],
  ])('parseRate(%j) is %i bytes per second', (text, bytes) => {
    expect(parseRate(text)).toBe(bytes)
  })

  it.each(['10mb', '10Kb', '10b', '5gb/s'])('parseRate(%j) is refused as ambiguous, naming both readings', (text) => {
    expect(() => parseRate(text)).toThrow(/bits or bytes; write .*bit for bits or .*B for bytes/)
    expect(() => parseRate(text)).toThrowError(expect.objectContaining({ code: 'USAGE' }))
  })

  it.each(['', 'fast', '10 Tbit', '-5M', '5iB', '5Mx', '10MiBit'])('parseRate(%j) is USAGE', (text) => {
    expect(() => parseRate(text)).toThrowError(expect.objectContaining({ code: 'USAGE' }))
  })
})

describe('createRateLimiter()', () => {
  it('holds the rate: a second of traffic past the burst waits its share, never less', () => {
    let t = 0
    const lim = createRateLimiter(1_000_000, () => t)!
    expect(lim.take(64 << 10)).toBe(0) // within the burst (max(64 KiB, rate/10))
    const wait = lim.take(1_000_000)
    expect(wait).toBeCloseTo(((1_000_000 - (100_000 - (64 << 10))) * 1000) / 1_000_000, 3)
    t += wait
    // After waiting exactly that long, the debt is paid: the next byte waits only its own time.
    expect(lim.take(1000)).toBeCloseTo(1, 3)
  })

  it('refills at the rate but never beyond the burst', () => {
    let t = 0
    const lim = createRateLimiter(1_000_000, () => t)!
    lim.take(100_000)
    t += 10_000 // ten idle seconds refill only one burst (100 ms at this rate)
    expect(lim.take(100_000)).toBe(0)
    expect(lim.take(100_000)).toBeCloseTo(100, 3)
  })

  it('no limit (0 or negative) is no limiter', () => {
    expect(createRateLimiter(0)).toBeUndefined()
    expect(createRateLimiter(-1)).toBeUndefined()
  })
})
