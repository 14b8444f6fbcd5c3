/**
 * Piece buffers are reused once every holder let go (issue #18). A buffer reused too early would
 * put one piece's bytes under another's name: peers would fail their hashes and ban the sender.
 * So: the counting rules as a unit, then a swarm whose every serving cache holds a single piece,
 * so that buffers are dropped and taken again all the time while blocks of them are still queued
 * on sockets.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createSwarmNode, openPieceFile, type SwarmNode } from '../../src/swarm/index.js'
import { freePieceBuffers, holdPieceBuffer, releasePieceBuffer, takePieceBuffer } from '../../src/swarm/piece-buffers.js'
import { makeTorrentFile } from '../helpers/make-torrent.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const nodes: SwarmNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

describe('piece buffers', () => {
  it('are reused only after the last holder lets go, and never for what was not taken here', () => {
    const L = 12345 // a piece length no other test uses
    const a = takePieceBuffer(L, L)
    holdPieceBuffer(a) // a second holder (a socket write)
    releasePieceBuffer(a)
    expect(freePieceBuffers(L)).toBe(0) // one holder left
    const b = takePieceBuffer(L, L)
    expect(b.buffer).not.toBe(a.buffer)
    releasePieceBuffer(a.subarray(100, 200)) // any view of it lets go of the same buffer
    expect(freePieceBuffers(L)).toBe(1)
    const c = takePieceBuffer(100, L) // a last, shorter piece: a view of a whole one
    expect(c.buffer).toBe(a.buffer)
    expect(c.length).toBe(100)
    releasePieceBuffer(Buffer.alloc(L)) // not a piece buffer: nothing happens
    holdPieceBuffer(Buffer.alloc(L))
    expect(freePieceBuffers(L)).toBe(0)
    releasePieceBuffer(b)
    releasePieceBuffer(c)
    expect(freePieceBuffers(L)).toBe(2)
  })

  it('free buffers not taken again within 10 s are let go (a host between rollouts keeps none)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] })
    vi.resetModules() // a fresh pool: its idle timer is armed under the fake clock
    const { freePieceBuffers, releasePieceBuffer, takePieceBuffer } = await import('../../src/swarm/piece-buffers.js')
    try {
      const L = 23456
      const a = takePieceBuffer(L, L)
      const b = takePieceBuffer(L, L)
      releasePieceBuffer(a)
      vi.advanceTimersByTime(9_000)
      expect(freePieceBuffers(L)).toBe(1)
      releasePieceBuffer(takePieceBuffer(L, L)) // taken again: the wait starts over
      releasePieceBuffer(b)
      vi.advanceTimersByTime(9_000)
      expect(freePieceBuffers(L)).toBe(2)
      vi.advanceTimersByTime(2_000)
      expect(freePieceBuffers(L)).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  it('a swarm whose caches hold one piece each still hands every host the right bytes', async () => {
    const dir = await tempDir()
    const t = await makeTorrentFile(dir, 6 << 20, 64 << 10)
    const node = async (role: 'origin' | 'host') => {
      const n = createSwarmNode({ role, listenHost: '127.0.0.1', pieceCacheBytes: 1 })
      await n.start()
      nodes.push(n)
      return n
    }
    const origin = await node('origin')
    origin.add(t.info, await openPieceFile(t.path, t.info, { complete: true }), { superSeed: true })
    const hosts = await Promise.all([1, 2, 3, 4].map(() => node('host')))
    const sessions = await Promise.all(hosts.map(async (h, k) => h.add(t.info, await openPieceFile(join(dir, `h${k}.tar`), t.info), { webSeeds: [] })))
    const failures: unknown[] = []
    for (const s of sessions) {
      s.on('hash-failure', (f) => failures.push(f))
      s.addPeer({ host: '127.0.0.1', port: origin.port })
      for (const h of hosts) s.addPeer({ host: '127.0.0.1', port: h.port })
    }
    await Promise.all(sessions.map((s) => s.done))
    expect(failures).toEqual([])
    for (let k = 0; k < hosts.length; k++) expect(createHash('sha256').update(await readFile(join(dir, `h${k}.tar`))).digest('hex')).toBe(t.sha256)
    expect(sessions.reduce((n, s) => n + s.stats().bytesFromPeers, 0)).toBeGreaterThan(0) // hosts served each other from their caches
    expect(freePieceBuffers(64 << 10)).toBeGreaterThan(0) // and buffers went back for reuse
  }, 60_000)
})
