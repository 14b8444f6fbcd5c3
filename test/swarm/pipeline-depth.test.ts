import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import Wire from 'bittorrent-protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { createPipelineGauge, createSwarmNode, openPieceFile, pipelineBounds, type PipelineGauge } from '../../src/swarm/index.js'
import { makeTorrentFile } from '../helpers/make-torrent.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const stops: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s()
})

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
  // Steps shorter than the round trip, so that the answers' time under way covers the clock (a
  // pipeline is never empty on such a link).
  const dt = Math.min(1, rttMs / 4)
  for (let end = clock.t + ms; clock.t < end; ) {
    clock.t += dt
    const rate = Math.min(linkBytesPerS, (g.bytes * 1000) / rttMs)
    const queueMs = (Math.max(0, g.bytes - bdp) / linkBytesPerS) * 1000
    g.received((rate / 1000) * dt, clock.t, rttMs + queueMs)
  }
}

describe('createPipelineGauge() (issue 20)', () => {
  it('grows a far connection to about twice its bandwidth-delay product, so the link and not the pipeline is the limit', () => {
    const g = createPipelineGauge({ minBytes: 512 * KiB, maxBytes: 64 * MiB })
    const clock = { t: 0 }
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

  it('measures over the time answered requests were under way: the first round trip counts, a gap with nothing asked does not', () => {
    const g = createPipelineGauge({ minBytes: 64 * KiB, maxBytes: 64 * MiB, headroom: 2, sampleMs: 50 })
    g.received(5 * MiB, 1040, 40) // asked at 1000: 40 ms under way, not a whole period yet
    expect(g.bytes).toBe(64 * KiB)
    g.received(5 * MiB, 1100, 20) // asked at 1080: 1040-1080 had nothing under way
    expect(g.bytes).toBe(Math.round(((10 * MiB) / 60) * 20 * 2))
    // Answers under way at once cover their shared time once.
    const h = createPipelineGauge({ minBytes: 64 * KiB, maxBytes: 64 * MiB, headroom: 2, sampleMs: 50 })
    h.received(1 * MiB, 30, 30)
    h.received(1 * MiB, 40, 35)
    h.received(1 * MiB, 60, 30)
    expect(h.bytes).toBe(Math.round(((3 * MiB) / 60) * 30 * 2))
  })

  it('grows a far link the picker uses only now and then until a piece fits in one round trip (it stayed at its floor while idle gaps counted as slowness)', () => {
    const g = createPipelineGauge({ minBytes: 512 * KiB, maxBytes: 16 * MiB })
    const rtt = 30
    const link = 1.25e9 / 4 / 1000 // a quarter of 10 Gbit/s, bytes per ms
    const pieceTime: number[] = []
    // One 1 MiB piece asked every 200 ms. Per round trip the pipeline's worth of it is asked and
    // comes back at the link's rate, in 64 KiB answers.
    for (let t0 = 0; t0 < 4000; t0 += 200) {
      let left = MiB
      let t = t0
      while (left > 0) {
        const askedAt = t
        const batch = Math.min(left, g.bytes)
        t += rtt
        for (let sent = 0; sent < batch; ) {
          const n = Math.min(batch - sent, 64 * KiB)
          sent += n
          t += n / link
          g.received(n, t, t - askedAt)
        }
        left -= batch
      }
      pieceTime.push(t - t0)
    }
    expect(pieceTime[0]).toBeGreaterThan(2 * rtt) // at 512 KiB a piece takes two round trips
    expect(g.bytes).toBeGreaterThanOrEqual(MiB)
    expect(pieceTime.at(-1)).toBeLessThan(rtt + 5) // then one
  })
})

describe('the engine\'s pipeline floor: a whole piece', () => {
  it('pipelineBounds() floors at the configured pipeline or one piece, whichever is more, and never above the ceiling', () => {
    expect(pipelineBounds(512 * KiB, 256 * KiB)).toEqual({ minBytes: 512 * KiB, maxBytes: 16 * MiB })
    expect(pipelineBounds(512 * KiB, MiB)).toEqual({ minBytes: MiB, maxBytes: 16 * MiB })
    expect(pipelineBounds(512 * KiB, 64 * MiB)).toEqual({ minBytes: 16 * MiB, maxBytes: 16 * MiB })
    expect(pipelineBounds(32 * MiB, MiB, 4 * MiB)).toEqual({ minBytes: 32 * MiB, maxBytes: 32 * MiB })
  })

  it('a host asks a peer for every block of a 1 MiB piece at once (with a 512 KiB floor it asked half, and the rest a round trip later)', async () => {
    const dir = await tempDir()
    const t = await makeTorrentFile(dir, 4 * MiB, MiB)
    // A peer holding everything that records what it is asked and never answers.
    const asked = new Map<number, Set<number>>()
    let whole: (piece: number) => void = () => {}
    const wholePiece = new Promise<number>((resolve) => (whole = resolve))
    const open = new Set<Socket>()
    const server = createServer((socket) => {
      open.add(socket)
      const wire = new Wire()
      socket.pipe(wire).pipe(socket)
      socket.on('error', () => wire.destroy())
      wire.on('error', () => socket.destroy())
      wire.on('handshake', () => {
        wire.handshake(t.info.infoHash, Buffer.from('-XX0100-silentpeer01'))
        wire.bitfield(Buffer.alloc(Math.ceil(t.info.pieceCount / 8), 0xff))
      })
      wire.on('interested', () => wire.unchoke())
      wire.on('request', (i: number, offset: number) => {
        const set = asked.get(i) ?? new Set<number>()
        asked.set(i, set.add(offset))
        if (set.size === MiB / (16 * KiB)) whole(i)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    stops.push(() => new Promise<void>((resolve) => {
      for (const c of open) c.destroy()
      server.close(() => resolve())
    }))
    const host = createSwarmNode({ role: 'host', listenHost: '127.0.0.1' })
    await host.start()
    stops.push(() => host.stop())
    const s = host.add(t.info, await openPieceFile(join(dir, 'host.tar'), t.info), { webSeeds: [] })
    s.addPeer({ host: '127.0.0.1', port: (server.address() as { port: number }).port })
    let bound: NodeJS.Timeout | undefined
    const piece = await Promise.race([
      wholePiece,
      new Promise<never>((_, reject) => (bound = setTimeout(() => reject(new Error(`no piece asked whole within 5 s: ${JSON.stringify([...asked].map(([i, o]) => [i, o.size]))}`)), 5000))),
    ]).finally(() => clearTimeout(bound))
    expect(asked.get(piece)!.size).toBe(64)
  }, 15_000)
})
