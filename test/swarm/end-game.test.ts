import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { connect } from 'node:net'
import Wire from 'bittorrent-protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { createSwarmNode, openPieceFile, type SwarmNode, type TorrentSession } from '../../src/swarm/index.js'
import { makeTorrentFile } from '../helpers/make-torrent.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const nodes: SwarmNode[] = []
const sockets: import('node:net').Socket[] = []
afterEach(async () => {
  sockets.splice(0).forEach((s) => s.destroy())
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

type Respond = (err: Error | null, b?: Uint8Array) => void

/** A raw BEP 3 peer holding every piece; `answer` decides whether it serves a request. */
function rawPeer(port: number, infoHash: string, id: string, answer: (i: number, offset: number, length: number, respond: Respond) => void): Wire {
  const socket = connect({ host: '127.0.0.1', port })
  sockets.push(socket)
  const wire = new Wire('tcpOutgoing')
  socket.pipe(wire).pipe(socket)
  socket.on('error', () => {})
  wire.once('handshake', () => wire.bitfield(Buffer.alloc(1, 0xff)))
  wire.on('interested', () => wire.unchoke())
  wire.on('request', answer)
  wire.handshake(infoHash, Buffer.from(id))
  return wire
}

describe('the end game', () => {
  it('a piece another peer delivered first is cancelled at the slow one, so it sends nothing more for it', async () => {
    const dir = await tempDir()
    // One piece of 16 blocks: the host asks the slow peer for all of it, then (end game) the fast one.
    const t = await makeTorrentFile(dir, 256 << 10, 256 << 10)
    const host = createSwarmNode({ role: 'host', listenHost: '127.0.0.1' })
    await host.start()
    nodes.push(host)
    const path = `${dir}/host.tar`
    const s: TorrentSession = host.add(t.info, await openPieceFile(path, t.info), { webSeeds: [] })
    const asked = new Set<string>()
    const cancelled = new Set<string>()
    let slowAsked!: () => void
    const slowWaiting = new Promise<void>((r) => (slowAsked = r))
    const slow = rawPeer(host.port, t.info.infoHash, '-XX0001-slowslowslow', (i, offset, length) => {
      asked.add(`${i}:${offset}:${length}`)
      slowAsked() // holds every request: never answers
    })
    slow.on('cancel', (i: number, offset: number, length: number) => cancelled.add(`${i}:${offset}:${length}`))
    await slowWaiting
    rawPeer(host.port, t.info.infoHash, '-XX0001-fastfastfast', (i, offset, length, respond) => {
      const at = i * t.info.pieceLength + offset
      respond(null, t.data.subarray(at, at + length))
    })
    await s.done
    expect(createHash('sha256').update(await readFile(path)).digest('hex')).toBe(t.sha256)
    // Every request the slow peer still held is withdrawn (BEP 3 CANCEL).
    await expect.poll(() => cancelled.size, { timeout: 5_000 }).toBe(asked.size)
    expect([...cancelled].sort()).toEqual([...asked].sort())
    expect(asked.size).toBeGreaterThan(0)
  }, 20_000)
})
