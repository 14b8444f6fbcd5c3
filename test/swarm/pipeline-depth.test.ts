import { describe, expect, it } from 'vitest'
import { createPipelineGauge, type PipelineGauge } from '../../src/swarm/index.js'

const KiB = 1024
const MiB = 1024 * KiB

/**
 * A connection of `rttMs` and `linkBytesPerS` asked `g.bytes` at a time: each 1 ms delivers
 * min(link, pipeline / RTT) worth; an answer's latency is the RTT plus the queue the pipeline
 * builds beyond the link's bandwidth-delay product.
 */
function drive(g: PipelineGauge, clock: { t: number }, linkBytesPerS: number, rttMs: number, ms: number): void {
  const bdp = (linkBytesPerS * rttMs) / 1000
  if (g.latencyMs === Infinity) g.received(16 * KiB, clock.t, rttMs) // the first answer: nothing queued yet
  for (let end = clock.t + ms; clock.t < end; ) {
    clock.t += 1
    const rate = Math.min(linkBytesPerS, (g.bytes * 1000) / rttMs)
    const queueMs = (Math.max(0, g.bytes - bdp) / linkBytesPerS) * 1000
    g.received(rate / 1000, clock.t, rttMs + queueMs)
  }
}

describe('createPipelineGauge() (issue 20)', () => {
  it('grows a far connection to about twice its bandwidth-delay product, so the link and not the pipeline is the limit', () => {
    const g = createPipelineGauge({ minBytes: 512 * KiB, maxBytes: 64 * MiB })
    const clock = { t: 0 }
    g.asked(0)
    expect(g.bytes).toBe(512 * KiB) // 512 KiB over 30 ms: 17 MB/s of a 125 MB/s link
    drive(g, clock, 125e6, 30, 1000)
    expect(g.latencyMs).toBe(30)
    expect(g.bytes).toBeGreaterThanOrEqual(125e6 * 0.03) // covers 1 Gbit/s x 30 ms
    expect(g.bytes).toBeLessThanOrEqual(2 * 125e6 * 0.03 + 1)
  })

  it('stays at its floor on a short fast link (a deep pipeline only queues there) and never passes its ceiling', () => {
    const near = createPipelineGauge({ minBytes: 512 * KiB, maxBytes: 64 * MiB })
    const clock = { t: 0 }
    drive(near, clock, 1.25e9, 0.1, 500) // 10 Gbit/s x 0.1 ms = 125 KB
    expect(near.bytes).toBe(512 * KiB)
    const far = createPipelineGauge({ minBytes: 512 * KiB, maxBytes: 4 * MiB })
    drive(far, { t: 0 }, 1.25e9, 30, 500)
    expect(far.bytes).toBe(4 * MiB)
  })

  it('shrinks back to its floor when the peer slows down', () => {
    const g = createPipelineGauge({ minBytes: 512 * KiB, maxBytes: 64 * MiB })
    const clock = { t: 0 }
    drive(g, clock, 125e6, 30, 1000)
    expect(g.bytes).toBeGreaterThan(4 * MiB)
    drive(g, clock, 1e6, 30, 1000)
    expect(g.bytes).toBe(512 * KiB)
  })

  it('measures over whole sample periods from the first request: a pipeline-limited round trip counts', () => {
    const g = createPipelineGauge({ minBytes: 64 * KiB, maxBytes: 64 * MiB, headroom: 2, sampleMs: 50 })
    g.asked(1000)
    g.asked(1010) // later requests do not restart the clock
    g.received(5 * MiB, 1040, 40) // not a whole period yet
    expect(g.bytes).toBe(64 * KiB)
    g.received(5 * MiB, 1100, 20) // 10 MiB in 100 ms since the first request, shortest latency 20 ms
    expect(g.bytes).toBe(Math.round(((10 * MiB) / 100) * 20 * 2))
  })
})
