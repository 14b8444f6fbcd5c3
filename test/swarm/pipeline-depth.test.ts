import { describe, expect, it } from 'vitest'
import { createPipelineGauge } from '../../src/swarm/index.js'

const KiB = 1024
const MiB = 1024 * KiB

/** A connection whose rate is min(link, pipeline / RTT), delivering every 10 ms for `ms`. */
function drive(g: ReturnType<typeof createPipelineGauge>, clock: { t: number }, linkBytesPerS: number, rttS: number, ms: number): void {
  for (let end = clock.t + ms; clock.t < end; ) {
    clock.t += 10
    g.received(Math.min(linkBytesPerS, g.bytes / rttS) * 0.01, clock.t)
  }
}

describe('createPipelineGauge() (issue 20)', () => {
  it('grows a far connection past its bandwidth-delay product, so the link and not the pipeline is the limit', () => {
    const g = createPipelineGauge({ minBytes: 512 * KiB, maxBytes: 16 * MiB })
    const clock = { t: 0 }
    g.asked(0)
    expect(g.bytes).toBe(512 * KiB) // 512 KiB over 30 ms: 17 MB/s of a 125 MB/s link
    drive(g, clock, 125e6, 0.03, 1000)
    expect(g.bytes).toBeGreaterThanOrEqual(125e6 * 0.03) // covers 1 Gbit/s x 30 ms
    expect(g.bytes).toBeLessThanOrEqual(16 * MiB)
  })

  it('shrinks back to its floor for a peer that slows down, and never goes outside its bounds', () => {
    const g = createPipelineGauge({ minBytes: 512 * KiB, maxBytes: 4 * MiB })
    const clock = { t: 0 }
    g.asked(0)
    drive(g, clock, 1e9, 0.001, 500)
    expect(g.bytes).toBe(4 * MiB)
    drive(g, clock, 1e6, 0.001, 500)
    expect(g.bytes).toBe(512 * KiB)
  })

  it('measures over whole sample periods from the first request: a pipeline-limited round trip counts', () => {
    const g = createPipelineGauge({ minBytes: 64 * KiB, maxBytes: 64 * MiB, queueSeconds: 0.2, sampleMs: 50 })
    g.asked(1000)
    g.asked(1010) // later requests do not restart the clock
    g.received(5 * MiB, 1040) // not a whole period yet
    expect(g.bytes).toBe(64 * KiB)
    g.received(5 * MiB, 1100) // 10 MiB in 100 ms since the first request: 100 MiB/s, 0.2 s of it
    expect(g.bytes).toBe(Math.round(100 * MiB * 0.2))
    g.received(1 * MiB, 1200) // the next period starts where the last ended: 10 MiB/s
    expect(g.bytes).toBe(Math.round(10 * MiB * 0.2))
  })
})
