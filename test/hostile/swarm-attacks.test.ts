import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { parseTokens } from '../../src/core/index.js'
import { createSwarmNode, openPieceFile, type SwarmNode } from '../../src/swarm/index.js'
import { buildTracker, createTrackerStore } from '../../src/tracker/index.js'
import { createSwarmStore } from '../../src/tracker/swarm-store.js'
import { hostToken, TOKENS, TOKENS_FILE, waitFor } from '../helpers/fleet.js'
import { makeTorrentFile } from '../helpers/make-torrent.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const closers: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

describe('announce floods cannot poison a swarm (issue 12, medium 6)', () => {
  it('100,000 announces with made-up peer ids from one principal leave it 4 peers; other peers and their ids are untouched', () => {
    const s = createSwarmStore()
    const IH = 'ab'.repeat(20)
    const honest = (n: number) => ({ infoHash: IH, peerId: `2d5348${n.toString(16).padStart(34, '0')}`, port: 7000 + n, left: 10, event: 'started' as const, numwant: 50 })
    for (let n = 0; n < 5; n++) s.record(honest(n), `10.0.0.${n + 1}`, { key: `host:h${n}` })
    for (let i = 0; i < 100_000; i++) {
      s.record({ infoHash: IH, peerId: randomBytes(20).toString('hex'), port: 1 + (i % 60000), left: 10, event: 'started', numwant: 50 }, '10.9.9.9', { key: 'host:attacker' })
    }
    expect(s.stats(IH).incomplete).toBe(5 + 4)
    // The flooder cannot stop or move another source's peer by reusing its id.
    s.record({ ...honest(0), event: 'stopped' }, '10.9.9.9', { key: 'host:attacker' })
    s.record({ ...honest(1), port: 1 }, '10.9.9.9', { key: 'host:attacker' })
    const answer = s.record({ ...honest(2), event: 'update', numwant: 200 }, '10.0.0.3', { key: 'host:h2' })
    const ports = answer.v4.map((c) => c.readUInt16BE(4))
    expect(ports).toEqual(expect.arrayContaining([7000, 7001, 7003, 7004]))
    expect(s.stats(IH).incomplete).toBe(9)
  })
})

/** A BitTorrent handshake (BEP 3) claiming `peerId`. */
const handshake = (infoHash: string, peerId: Buffer): Buffer =>
  Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), Buffer.alloc(8), Buffer.from(infoHash, 'hex'), peerId])

describe('the origin is whom the tracker vouches for (issue 12, medium 7)', () => {
  it('240 handshakes claiming an origin id (-SO) from another address get no origin slot and at most 16 links; the real origin and an honest host still get in', async () => {
    const dir = await tempDir()
    const t = await makeTorrentFile(dir, 4 << 20, 64 << 10)
    const store = createTrackerStore({ dataDir: join(dir, 'tracker') })
    await store.start()
    const tracker: FastifyInstance = await buildTracker({ store, tokens: parseTokens(TOKENS_FILE) })
    const url = await tracker.listen({ port: 0, host: '127.0.0.1' })
    closers.push(async () => {
      await tracker.close()
      await store.stop()
    })
    const put = await fetch(`${url}/v1/bundles/sha256:${t.sha256}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKENS.seeder}`, 'content-type': 'application/json' },
      body: JSON.stringify({ size: t.info.length, infoHash: t.info.infoHash, pieceLength: t.info.pieceLength, webSeeds: [] }),
    })
    expect(put.ok).toBe(true)
    const node = async (role: 'origin' | 'host', extra: Partial<Parameters<typeof createSwarmNode>[0]> = {}): Promise<SwarmNode> => {
      const n = createSwarmNode({ role, listenHost: '127.0.0.1', ...extra })
      await n.start()
      closers.push(() => n.stop())
      return n
    }
    const origin = await node('origin')
    origin.add(t.info, await openPieceFile(t.path, t.info, { complete: true }), { superSeed: true, announceUrls: [`${url}/announce/${TOKENS.seeder}`] })
    // The victim downloads slowly, so the attack lands mid-download.
    const victim = await node('host', { maxConns: 20, downLimit: 512 << 10 })
    const session = victim.add(t.info, await openPieceFile(join(dir, 'victim.tar'), t.info), { announceUrls: [`${url}/announce/${hostToken('victim')}`], webSeeds: [] })
    const peers: { addr: string; origin: boolean }[] = []
    session.on('peer', (p: { addr: string; origin: boolean }) => peers.push(p))
    await waitFor('the victim to link to the vouched-for origin', async () => peers.some((p) => p.origin && p.addr.startsWith('127.0.0.1:')), 10_000)

    const sockets: Socket[] = []
    closers.push(() => sockets.forEach((s) => s.destroy()))
    const answered = new Set<Socket>()
    const closed = new Set<Socket>()
    for (let i = 0; i < 240; i++) {
      const s = connect({ host: '127.0.0.1', port: victim.port, localAddress: '127.0.0.2' })
      s.on('error', () => {})
      s.once('connect', () => s.write(handshake(t.info.infoHash, Buffer.concat([Buffer.from('-SO0100-'), randomBytes(12)]))))
      s.on('data', () => answered.add(s))
      s.once('close', () => closed.add(s))
      sockets.push(s)
    }
    await waitFor('every attacker to be answered or dropped', async () => sockets.every((s) => closed.has(s) || answered.has(s)), 20_000)
    await waitFor('the refused ones to be closed', async () => sockets.filter((s) => !closed.has(s)).length <= 16, 10_000)
    const attackers = peers.filter((p) => p.addr.startsWith('127.0.0.2:'))
    expect(attackers.length).toBeGreaterThan(0)
    expect(attackers.length).toBeLessThanOrEqual(16)
    expect(attackers.every((p) => !p.origin)).toBe(true)

    // An honest host still gets a link to the victim, and both finish.
    const honest = await node('host')
    const other = honest.add(t.info, await openPieceFile(join(dir, 'honest.tar'), t.info), { announceUrls: [`${url}/announce/${hostToken('honest')}`], webSeeds: [] })
    await waitFor('the honest host linked to the victim', async () => peers.some((p) => p.addr.startsWith('127.0.0.1:') && !p.origin), 20_000)
    await Promise.all([session.done, other.done])
  }, 90_000)
})
