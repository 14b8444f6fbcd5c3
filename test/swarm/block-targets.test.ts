/**
 * Blocks are copied from the socket straight into the piece they belong to (issue #18), so the
 * place they land must be one this host asked that peer for: a block nobody asked for, or one of
 * the wrong length, must never touch a piece under way. A hostile peer here answers each request
 * (past a piece's first block) with garbage for the piece's first block, already received, and
 * with a short block at the asked offset, before the right bytes: the host must end with the right
 * file, without one piece failing its hash. Both ways a link is made (the host dials: reads into a
 * reused buffer; the peer dials: Node's own buffers).
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import Wire from 'bittorrent-protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { createSwarmNode, openPieceFile, type SwarmNode, type TorrentInfo } from '../../src/swarm/index.js'
import { makeTorrentFile } from '../helpers/make-torrent.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const stops: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s()
})

interface PieceWire {
  piece(index: number, offset: number, block: Uint8Array): void
}

/** A peer holding every piece that sends what it was not asked for before each answer. */
function hostileWire(socket: Socket, info: TorrentInfo, data: Buffer, sent: { junk: number }): Wire {
  const wire = new Wire()
  socket.pipe(wire).pipe(socket)
  socket.on('error', () => wire.destroy())
  wire.on('error', () => socket.destroy())
  wire.on('handshake', () => {
    wire.handshake(info.infoHash, Buffer.from('-XX0100-hostile12345'))
    wire.bitfield(Buffer.alloc(Math.ceil(info.pieceCount / 8), 0xff))
  })
  wire.on('interested', () => wire.unchoke())
  wire.on('request', (i: number, offset: number, length: number, respond: (err: Error | null, block?: Uint8Array) => void) => {
    const at = i * info.pieceLength + offset
    const p = wire as unknown as PieceWire
    if (offset > 0) {
      p.piece(i, 0, randomBytes(Math.min(length, 16 << 10))) // not asked for (any more)
      p.piece(i, offset, randomBytes(length - 1)) // asked for, but the wrong length
      sent.junk += 2
    }
    respond(null, data.subarray(at, at + length))
  })
  return wire
}

describe('blocks go only where they were asked for', () => {
  for (const dials of ['host', 'peer'] as const) {
    it(`a peer's unasked and short blocks never reach a piece (the ${dials} dials)`, async () => {
      const dir = await tempDir()
      const t = await makeTorrentFile(dir, 1 << 20, 256 << 10)
      const sent = { junk: 0 }
      const host = createSwarmNode({ role: 'host', listenHost: '127.0.0.1' })
      await host.start()
      stops.push(() => host.stop())
      const path = join(dir, 'host.tar')
      const s = host.add(t.info, await openPieceFile(path, t.info), { webSeeds: [] })
      const failures: unknown[] = []
      const violations: unknown[] = []
      s.on('hash-failure', (f) => failures.push(f))
      // The only peer banned would leave the host waiting for ever: fail at once instead.
      const banned = new Promise<never>((_, reject) => s.on('peer-violation', (v) => (violations.push(v), reject(new Error(`banned the peer: ${JSON.stringify(v)}`)))))
      if (dials === 'host') {
        const open = new Set<Socket>()
        const server: Server = createServer((socket) => {
          open.add(socket)
          hostileWire(socket, t.info, t.data, sent)
        })
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
        stops.push(() => new Promise<void>((resolve) => {
          for (const c of open) c.destroy()
          server.close(() => resolve())
        }))
        s.addPeer({ host: '127.0.0.1', port: (server.address() as { port: number }).port })
      } else {
        const socket = connect({ host: '127.0.0.1', port: (host as SwarmNode).port })
        stops.push(() => void socket.destroy())
        const wire = hostileWire(socket, t.info, t.data, sent)
        socket.once('connect', () => wire.handshake(t.info.infoHash, Buffer.from('-XX0100-hostile12345')))
        wire.removeAllListeners('handshake')
        wire.on('handshake', () => wire.bitfield(Buffer.alloc(Math.ceil(t.info.pieceCount / 8), 0xff)))
      }
      await Promise.race([s.done, banned])
      expect(sent.junk).toBeGreaterThan(0)
      expect(createHash('sha256').update(await readFile(path)).digest('hex')).toBe(t.sha256)
      expect(failures).toEqual([])
      expect(violations).toEqual([])
    }, 30_000)
  }
})
