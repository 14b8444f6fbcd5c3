import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createSwarmNode, openPieceFile, type SwarmNode, type TorrentSession } from '../../src/swarm/index.js'
import { makeTorrentFile } from '../helpers/make-torrent.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const nodes: SwarmNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})
async function node(role: 'origin' | 'host', init: Parameters<typeof createSwarmNode>[0] = { role }): Promise<SwarmNode> {
  const n = createSwarmNode({ ...init, role, listenHost: '127.0.0.1' })
  await n.start()
  nodes.push(n)
  return n
}
const sha256 = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex')
const local = (n: SwarmNode) => ({ host: '127.0.0.1', port: n.port })

describe('createSwarmNode()', () => {
  it('an origin and 6 hosts: every host ends with the file, the origin sends it about once', async () => {
    const dir = await tempDir()
    const t = await makeTorrentFile(dir, 8 << 20)
    const origin = await node('origin')
    const seed = origin.add(t.info, await openPieceFile(t.path, t.info, { complete: true }), { superSeed: true })
    const hosts: { n: SwarmNode; s: TorrentSession; path: string }[] = []
    for (let k = 0; k < 6; k++) {
      const n = await node('host', { role: 'host', downLimit: 16 << 20 })
      const path = join(dir, `h${k}.tar`)
      hosts.push({ n, s: n.add(t.info, await openPieceFile(path, t.info), { webSeeds: [] }), path })
    }
    for (const h of hosts) {
      h.s.addPeer(local(origin))
      for (const o of hosts) if (o !== h) h.s.addPeer(local(o.n))
    }
    await Promise.all(hosts.map((h) => h.s.done))
    for (const h of hosts) expect(await sha256(h.path)).toBe(t.sha256)
    const fromPeers = hosts.reduce((a, h) => a + h.s.stats().bytesFromPeers, 0)
    expect(fromPeers).toBeGreaterThan(0)
    // Each piece leaves the origin about once; peers do the rest.
    expect(seed.stats().uploaded).toBeLessThan(2 * t.info.length)
  }, 60_000)

  it('a peer serving corrupt pieces is caught by the hashes, dropped, and the host still completes', async () => {
    const dir = await tempDir()
    const t = await makeTorrentFile(dir, 2 << 20)
    const badPath = join(dir, 'bad.tar')
    const bad = Buffer.from(t.data)
    for (let at = 100; at < bad.length; at += 256 << 10) bad[at]! ^= 0xff // one flipped byte per piece
    await writeFile(badPath, bad)
    const liar = await node('host')
    liar.add(t.info, await openPieceFile(badPath, t.info, { complete: true }))
    const origin = await node('origin')
    origin.add(t.info, await openPieceFile(t.path, t.info, { complete: true }), { superSeed: true })
    const host = await node('host')
    const path = join(dir, 'host.tar')
    const s = host.add(t.info, await openPieceFile(path, t.info), { webSeeds: [] })
    const failures: unknown[] = []
    const violations: { code: string }[] = []
    const linked: string[] = []
    s.on('peer', (p: { addr: string }) => linked.push(p.addr))
    s.on('hash-failure', (f) => failures.push(f))
    s.on('peer-violation', (v: { code: string }) => {
      violations.push(v)
      // Offered again (as a tracker keeps listing it) and only now an honest peer: the banned
      // one must not come back.
      s.addPeer(local(liar))
      s.addPeer(local(origin))
      s.addPeer(local(liar))
    })
    s.addPeer(local(liar))
    await s.done
    expect(failures.length).toBeGreaterThanOrEqual(1)
    expect(violations[0]!.code).toBe('PIECE_HASH_MISMATCH')
    expect(await sha256(path)).toBe(t.sha256)
    expect(linked.filter((a) => a === `127.0.0.1:${liar.port}`)).toHaveLength(1) // linked once, never again
    expect(s.stats().peers).toBe(1) // the liar was dropped and not taken back
  }, 30_000)

  it('resumes from what is on disk: a half-written file refetches only the missing pieces', async () => {
    const dir = await tempDir()
    const t = await makeTorrentFile(dir, 4 << 20)
    const path = join(dir, 'half.tar')
    const half = Buffer.alloc(t.data.length)
    t.data.copy(half, 0, 0, 2 << 20)
    half[(2 << 20) - 1]! ^= 0x01 // the last "written" piece is torn
    await writeFile(path, half)
    const file = await openPieceFile(path, t.info)
    expect(file.verified.filter(Boolean)).toHaveLength(7)
    const origin = await node('origin')
    origin.add(t.info, await openPieceFile(t.path, t.info, { complete: true }), { superSeed: true })
    const host = await node('host')
    const s = host.add(t.info, file, { webSeeds: [] })
    s.addPeer({ ...local(origin), origin: true }) // vouched for, as the tracker's answer does
    await s.done
    expect(await sha256(path)).toBe(t.sha256)
    expect(s.stats().bytesFromOrigin).toBe(9 * (256 << 10))
  }, 30_000)
})
