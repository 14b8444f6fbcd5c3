import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import bencode from 'bencode'
import { afterEach, describe, expect, it } from 'vitest'
import { createSwarmNode, openPieceFile, parseTorrentInfo, type SwarmNode } from '../../src/swarm/index.js'
import { makeTorrentFile } from '../helpers/make-torrent.js'
import { rawPeer } from '../helpers/raw-peer.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const nodes: SwarmNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

describe('parseTorrentInfo()', () => {
  it('reads a single-file torrent made by the seeder', async () => {
    const t = await makeTorrentFile(await tempDir(), 300_000, 64 << 10)
    expect(t.info).toMatchObject({ name: 'bundle.tar', length: 300_000, pieceLength: 65536, pieceCount: 5 })
    expect(t.info.pieceHashes.length).toBe(100)
  })

  const info = (over: Record<string, unknown>) => bencode.encode({ info: { name: 'b.tar', 'piece length': 65536, length: 100_000, pieces: new Uint8Array(40), private: 1, ...over } })
  const hostile: [string, Uint8Array][] = [
    ['garbage bytes', new TextEncoder().encode('not a torrent at all')],
    ['a truncated bencoding', info({}).subarray(0, 40)],
    ['piece hashes that do not cover the length', info({ pieces: new Uint8Array(20) })],
    ['a multi-file torrent', bencode.encode({ info: { name: 'd', 'piece length': 65536, pieces: new Uint8Array(20), files: [{ path: [new TextEncoder().encode('a')], length: 10 }, { path: [new TextEncoder().encode('b')], length: 10 }] } })],
    ['a piece length under 16 KiB', info({ 'piece length': 1024, length: 2048, pieces: new Uint8Array(40) })],
  ]
  for (const [name, bytes] of hostile) {
    it(`refuses ${name} with TORRENT_INVALID`, async () => {
      await expect(parseTorrentInfo(bytes)).rejects.toMatchObject({ code: 'TORRENT_INVALID' })
    })
  }
})

describe('a peer that breaks BEP 3', () => {
  it('asking for a 200 KiB block (inside the piece, over the 128 KiB cap) is dropped instead of served', async () => {
    const dir = await tempDir()
    const t = await makeTorrentFile(dir, 2 << 20)
    const seed = createSwarmNode({ role: 'host', listenHost: '127.0.0.1' })
    await seed.start()
    nodes.push(seed)
    const s = seed.add(t.info, await openPieceFile(t.path, t.info, { complete: true }))
    const violations: { code: string }[] = []
    s.on('peer-violation', (v: { code: string }) => violations.push(v))
    const { socket, wire } = rawPeer(seed.port, t.info.infoHash)
    let served = 0
    wire.on('piece', () => served++)
    wire.once('unchoke', () => wire.request(0, 0, 200 << 10, () => {}))
    await new Promise<void>((resolve) => socket.once('close', () => resolve()))
    expect(violations).toEqual([expect.objectContaining({ code: 'PEER_PROTOCOL_VIOLATION' })])
    expect(served).toBe(0)
    expect(s.stats().uploaded).toBe(0)
  }, 20_000)

  it('a peer that sends its bitfield again and again is still served and serves: each counts only what changed', async () => {
    const dir = await tempDir()
    const t = await makeTorrentFile(dir, 1 << 20, 64 << 10)
    const host = createSwarmNode({ role: 'host', listenHost: '127.0.0.1' })
    await host.start()
    nodes.push(host)
    const path = `${dir}/host.tar`
    const s = host.add(t.info, await openPieceFile(path, t.info), { webSeeds: [] })
    const violations: { code: string }[] = []
    s.on('peer-violation', (v: { code: string }) => violations.push(v))
    const none = Buffer.alloc(Math.ceil(t.info.pieceCount / 8))
    const all = Buffer.alloc(none.length, 0xff)
    const { socket, wire } = rawPeer(host.port, t.info.infoHash, (w) => {
      // Pieces announced, withdrawn by a bitfield, announced again (aria2c sends more than one).
      w.have(3)
      for (let k = 0; k < 50; k++) w.bitfield(k % 2 ? all : none)
    })
    wire.on('interested', () => wire.unchoke())
    wire.on('request', (i: number, offset: number, length: number, respond: (err: Error | null, b?: Uint8Array) => void) => {
      const at = i * t.info.pieceLength + offset
      respond(null, t.data.subarray(at, at + length))
    })
    await s.done
    expect(violations).toEqual([])
    expect(createHash('sha256').update(await readFile(path)).digest('hex')).toBe(t.sha256)
    socket.destroy()
  }, 20_000)
})
