import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createSwarmNode, openPieceFile, type PieceFile, type SwarmNode } from '../../src/swarm/index.js'
import { MAX_PEER_REQUESTS } from '../../src/swarm/uploader.js'
import { makeTorrentFile } from '../helpers/make-torrent.js'
import { rawPeer } from '../helpers/raw-peer.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const nodes: SwarmNode[] = []
const sockets: Socket[] = []
afterEach(async () => {
  sockets.splice(0).forEach((s) => s.destroy())
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

async function seeding(size: number, wrap: (file: PieceFile) => PieceFile = (f) => f) {
  const dir = await tempDir()
  const t = await makeTorrentFile(dir, size, 1 << 20)
  const seed = createSwarmNode({ role: 'host', listenHost: '127.0.0.1' })
  await seed.start()
  nodes.push(seed)
  const s = seed.add(t.info, wrap(await openPieceFile(t.path, t.info, { complete: true })))
  const violations: { code: string }[] = []
  s.on('peer-violation', (v: { code: string }) => violations.push(v))
  const { socket, wire } = rawPeer(seed.port, t.info.infoHash)
  sockets.push(socket)
  await new Promise<void>((r) => wire.once('unchoke', () => r()))
  return { t, s, socket, wire, violations }
}

const BLOCK = 128 << 10

describe('the uploader', () => {
  it('holds back what the link cannot take yet, where a CANCEL still reaches it', async () => {
    const { t, s, socket, wire } = await seeding(64 << 20)
    const blocks = t.info.length / BLOCK - 1 // all but the last, which is the sentinel
    socket.pause() // read nothing: the seeder's socket fills, the rest must wait at the seeder
    const at = (k: number) => [Math.floor((k * BLOCK) / t.info.pieceLength), (k * BLOCK) % t.info.pieceLength] as const
    for (let k = 0; k < blocks; k++) wire.request(...at(k), BLOCK, () => {})
    await expect.poll(() => s.stats().uploaded, { timeout: 10_000 }).toBeGreaterThanOrEqual(1 << 20)
    for (let k = 0; k < blocks; k++) wire.cancel(...at(k), BLOCK)
    let received = 0
    wire.on('piece', (_i: number, _o: number, b: Uint8Array) => (received += b.length))
    const sentinel = new Promise<void>((resolve, reject) => wire.request(...at(blocks), BLOCK, (err: Error | null) => (err ? reject(err) : resolve())))
    socket.resume()
    await sentinel
    // What went out before the CANCELs: the seeder's backlog (512 KiB) and the kernel's socket
    // buffers (a few MiB on loopback), not the 64 MiB asked for.
    expect(received - BLOCK).toBeLessThan(24 << 20)
    expect(s.stats().uploaded).toBeLessThan(24 << 20)
  }, 30_000)

  it('answers a request that waited behind reads whose blocks were all cancelled', async () => {
    // Pieces 0-3 are read only when the test lets them: their four blocks fill the backlog with
    // reads under way, so the fifth request (piece 4) waits. The four are cancelled while read;
    // their reads then end with nothing written, and the fifth must still go out.
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let gatedReads = 0
    const { socket, wire } = await seeding(8 << 20, (file) => ({
      ...file,
      verified: file.verified,
      read: async (i, offset, length, into) => {
        if (i < 4) {
          gatedReads++
          await gate
        }
        return file.read(i, offset, length, into)
      },
    }))
    const message = (id: number, ...fields: number[]) => {
      const b = Buffer.alloc(5 + 4 * fields.length)
      b.writeUInt32BE(1 + 4 * fields.length, 0)
      b[4] = id
      fields.forEach((f, k) => b.writeUInt32BE(f, 5 + 4 * k))
      return b
    }
    const REQUEST = 6
    const CANCEL = 8
    const answered: number[] = []
    wire.on('piece', (i: number) => answered.push(i))
    // One write, so the node reads it at once: four requests, their cancels, then the fifth.
    socket.write(
      Buffer.concat([
        ...[0, 1, 2, 3].map((i) => message(REQUEST, i, 0, BLOCK)),
        ...[0, 1, 2, 3].map((i) => message(CANCEL, i, 0, BLOCK)),
        message(REQUEST, 4, 0, BLOCK),
      ]),
    )
    await expect.poll(() => gatedReads, { timeout: 10_000 }).toBe(4)
    release()
    await expect.poll(() => answered, { timeout: 10_000 }).toEqual([4])
  }, 30_000)

  it(`drops a peer with more than ${MAX_PEER_REQUESTS} requests waiting`, async () => {
    const { s, socket, wire, violations } = await seeding(4 << 20)
    socket.pause()
    const closed = new Promise<void>((r) => socket.once('close', () => r()))
    // Not read, so what the seeder answers stays in the sockets' buffers (a few MiB) and the
    // rest of the requests wait: past the cap however many were answered.
    for (let k = 0; k < 2 * MAX_PEER_REQUESTS; k++) wire.request(k % 4, 0, 16 << 10, () => {})
    await expect.poll(() => violations.length, { timeout: 20_000 }).toBeGreaterThan(0)
    socket.resume()
    await closed
    expect(violations.map((v) => v.code)).toEqual(['PEER_PROTOCOL_VIOLATION']) // once: then it is gone
    expect(s.stats().uploaded).toBeLessThan(24 << 20)
  }, 30_000)
})
