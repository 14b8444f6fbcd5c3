import { createServer } from 'node:http'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { generateSigningKey, parseTrustedKeys, type Digest } from '../../src/core/index.js'
import { hostToken, TOKENS, waitFor } from '../helpers/fleet.js'
import { makeTorrentFile, torrentFor } from '../helpers/make-torrent.js'
import { useStackHosts } from '../helpers/stack-hosts.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const { closers, stack, fetcher, report, runningOn } = useStackHosts(tempDir)

describe('createFetcher(): paths the swarm tests did not cover (issue 17)', () => {
  it('--trusted-keys: unsigned is SIGNATURE_MISSING, signed by another key SIGNATURE_UNTRUSTED, neither handed on; signed by a trusted key runs', async () => {
    const s = await stack()
    const dir = await tempDir()
    const trusted = generateSigningKey('release')
    const other = generateSigningKey('someone-else')
    await writeFile(join(dir, 'trusted.key'), trusted.privateKeyPem)
    await writeFile(join(dir, 'other.key'), other.privateKeyPem)
    const handed: string[] = []
    await fetcher(s, 'h1', { trustedKeys: parseTrustedKeys(`${trusted.publicKey.line}\n`), handOff: { stage: async () => ({ verified: false }), activate: async (b) => void handed.push(b.version), stopAll: async () => {} } })
    const v1 = await s.publish('1', 64 << 10)
    await waitFor('SIGNATURE_MISSING', async () => (await report(s, 'h1', v1.digest)).errorCode === 'SIGNATURE_MISSING', 30_000)
    const v2 = await s.publish('2', 64 << 10, { sign: join(dir, 'other.key') })
    await waitFor('SIGNATURE_UNTRUSTED', async () => (await report(s, 'h1', v2.digest)).errorCode === 'SIGNATURE_UNTRUSTED', 30_000)
    const v3 = await s.publish('3', 64 << 10, { sign: join(dir, 'trusted.key') })
    await runningOn(s, 'h1', v3.digest)
    expect(handed).toEqual(['3'])
  }, 60_000)

  it('a tracker (or anything between) that names an unsigned `hold` version: refused by the trust policy like any target, never started', async () => {
    const s = await stack()
    const dir = await tempDir()
    const trusted = generateSigningKey('release')
    await writeFile(join(dir, 'trusted.key'), trusted.privateKeyPem)
    const sign = join(dir, 'trusted.key')
    // Between the host and the tracker: once armed, every targets answer becomes "stage only,
    // keep running <evil>", naming a version nobody signed.
    let evil: { version: string; digest: string } | undefined = undefined
    const proxy = createServer(async (req, res) => {
      const chunks: Buffer[] = []
      for await (const c of req) chunks.push(c as Buffer)
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k))) as Record<string, string>
      const up = await fetch(`${s.trackerUrl}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined })
      let body = Buffer.from(await up.arrayBuffer())
      if (evil && up.status === 200 && /\/v1\/hosts\/[^/]+\/targets/.test(req.url ?? '')) {
        const answer = JSON.parse(body.toString()) as { targets: Record<string, unknown>[] }
        for (const t of answer.targets) Object.assign(t, { activate: false, hold: { version: evil.version, digest: evil.digest } })
        body = Buffer.from(JSON.stringify(answer))
      }
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' })
      res.end(body)
    })
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()))
    closers.push(() => new Promise((r) => proxy.close(r)))
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`
    const activated: string[] = []
    await fetcher(s, 'h1', {
      tracker: { url: proxyUrl, token: hostToken('h1') },
      trustedKeys: parseTrustedKeys(`${trusted.publicKey.line}\n`),
      handOff: { stage: async () => ({ verified: false }), activate: async (b) => void activated.push(b.version), stopAll: async () => {} },
    })
    const v1 = await s.publish('1', 64 << 10, { sign })
    await runningOn(s, 'h1', v1.digest)
    const unsigned = await s.publish('6.6.6', 64 << 10, { channel: null })
    evil = { version: '6.6.6', digest: unsigned.digest }
    const v2 = await s.publish('2', 64 << 10, { sign })
    await waitFor('the evil hold refused', async () => (await report(s, 'h1', unsigned.digest)).errorCode === 'SIGNATURE_MISSING', 30_000)
    await waitFor('v2 staged', async () => (await report(s, 'h1', v2.digest)).state === 'staged', 30_000)
    expect(activated).toEqual(['1'])
  }, 60_000)

  it('evicts cached bundles no target needs beyond --keep, most recently used kept, and stops seeding them', async () => {
    const s = await stack()
    const f = await fetcher(s, 'h1', { keep: 1 })
    const digests: Digest[] = []
    for (const v of ['1', '2', '3', '4']) {
      const b = await s.publish(v, 128 << 10)
      digests.push(b.digest as Digest)
      await runningOn(s, 'h1', b.digest)
    }
    const cached = (await readdir(join(s.dir, 'h1', 'cache'))).filter((n) => n.endsWith('.tar')).sort()
    expect(cached).toEqual([digests[2]!, digests[3]!].map((d) => `${d.slice(7)}.tar`).sort())
    expect(f.swarm.list().length).toBe(2)
  }, 60_000)

  it('a target that moves on mid-download stops its download at once: only the new bundle is fetched', async () => {
    const s = await stack()
    const f = await fetcher(s, 'h1', { downLimit: 2 << 20 })
    const v1 = await s.publish('1', 24 << 20)
    await waitFor('v1 downloading', async () => (await report(s, 'h1', v1.digest)).bytesDone > 0, 30_000)
    const v2 = await s.publish('2', 1 << 20)
    await runningOn(s, 'h1', v2.digest)
    // The abandoned download's session is gone (nothing more asked for or served), the new one seeds.
    expect(f.swarm.list().map((x) => x.info.length)).toEqual([v2.size])
    const r1 = await report(s, 'h1', v1.digest)
    expect(r1.bytesDone).toBeLessThan(v1.size)
  }, 60_000)

  it('registers again when the tracker forgets the host (a tracker restarted on an empty data dir)', async () => {
    const s = await stack()
    await fetcher(s, 'h1')
    const v1 = await s.publish('1', 64 << 10)
    await runningOn(s, 'h1', v1.digest)
    await s.restartTracker({ wipe: true })
    // The registry is empty now: a new version, and the host must find its way back on its own.
    const v2 = await s.publish('2', 64 << 10)
    await runningOn(s, 'h1', v2.digest)
    expect((await s.get('/v1/hosts')).hosts.map((h: { id: string }) => h.id)).toEqual(['h1'])
  }, 60_000)

  it('with no peer at all, the web seed alone delivers the bundle (every byte counted from the origin)', async () => {
    const s = await stack()
    await s.seeder.swarm.stop() // the origin's peer wire is gone; its HTTP web seed stays
    const f = await fetcher(s, 'h1')
    const v1 = await s.publish('1', 1 << 20)
    await runningOn(s, 'h1', v1.digest)
    const r = await report(s, 'h1', v1.digest)
    expect(r.bytesFromOrigin).toBe(v1.size)
    expect(r.bytesFromPeers).toBe(0)
    expect(f.counters().pieceHashFailures).toBe(0)
  }, 60_000)

  it('a web seed serving wrong bytes: every piece fails its hash and nothing is stored, until it serves the right ones', async () => {
    const s = await stack()
    const dir = await tempDir()
    let corrupt = true
    const t = await makeTorrentFile(dir, 512 << 10, 64 << 10)
    const seed = createServer((req, res) => {
      const [, a, b] = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '') ?? []
      const part = Buffer.from(t.data.subarray(Number(a), Number(b) + 1))
      if (corrupt) part[0] = part[0]! ^ 0xff
      res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${t.data.length}`, 'content-length': part.length })
      res.end(part)
    })
    await new Promise<void>((r) => seed.listen(0, '127.0.0.1', () => r()))
    closers.push(() => new Promise((r) => seed.close(r)))
    // Register a torrent whose only source is that web seed.
    const torrent = await torrentFor(t.path, 64 << 10, [`http://127.0.0.1:${(seed.address() as { port: number }).port}/x.tar`])
    const digest = `sha256:${t.sha256}`
    const put = (path: string, token: string, body: unknown) => fetch(`${s.trackerUrl}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    expect((await put(`/v1/bundles/${digest}`, TOKENS.seeder, { size: t.info.length, infoHash: t.info.infoHash, pieceLength: t.info.pieceLength, webSeeds: [], torrent: torrent.toString('base64') })).ok).toBe(true)
    expect((await put('/v1/releases/app/versions/9', TOKENS.publisher, { digest })).ok).toBe(true)
    expect((await put('/v1/channels/app/prod', TOKENS.publisher, { version: '9' })).ok).toBe(true)
    const f = await fetcher(s, 'h1')
    await waitFor('hash failures from the web seed', async () => f.counters().pieceHashFailures >= 3, 30_000)
    expect(f.counters().piecesVerified).toBe(0)
    corrupt = false
    await runningOn(s, 'h1', digest)
  }, 60_000)
})
