import { createHash, randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import parseTorrent from 'parse-torrent'
import { afterEach, describe, expect, it } from 'vitest'
import { createApiClient, createTrackerApi, parseTokens, type Digest } from '../../src/core/index.js'
import { buildSeederApp, createBundleStore, createTorrentOffers, parseRange } from '../../src/seeder/index.js'
import { buildTracker, createTrackerStore } from '../../src/tracker/index.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const PUB = 'pub-token-0123456789abcdef'
const SEED = 'seed-token-0123456789abcdef'
const HOST = 'host-token-0123456789abcdef'
const tokens = parseTokens(`publisher ${PUB} ci\nseeder ${SEED} origin\nhost ${HOST} fleet\n`)
const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})
const digestOf = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`

async function stack(): Promise<{ seeder: FastifyInstance; seederUrl: string; tracker: FastifyInstance; dataDir: string }> {
  const tstore = createTrackerStore({ dataDir: await tempDir() })
  await tstore.start()
  const tracker = await buildTracker({ store: tstore, tokens })
  const trackerUrl = await tracker.listen({ port: 0, host: '127.0.0.1' })
  closers.push(async () => {
    await tracker.close()
    await tstore.stop()
  })
  const dataDir = await tempDir()
  const store = createBundleStore({ dataDir })
  await store.start()
  // Web seed URLs are only recorded here, not fetched, so the public URL's port does not matter.
  const trackerApi = createTrackerApi(createApiClient({ url: trackerUrl, token: SEED, server: 'tracker' }), SEED)
  const offers = createTorrentOffers({ store, dataDir, publicUrl: 'http://127.0.0.1:0', name: 'origin-1', tracker: trackerApi })
  const seeder = await buildSeederApp({ store, tokens, offers })
  const seederUrl = await seeder.listen({ port: 0, host: '127.0.0.1' })
  closers.push(() => seeder.close())
  return { seeder, seederUrl, tracker, dataDir }
}

const upload = (url: string, digest: string, body: Buffer, token = PUB) =>
  fetch(`${url}/v1/bundles/${digest}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body })

describe('buildSeederApp()', () => {
  it('an upload is stored, its private torrent registered with the tracker, and served as a web seed with Range', async () => {
    const { seederUrl, tracker } = await stack()
    const data = randomBytes(700_000)
    const d = digestOf(data)
    const r = await upload(seederUrl, d, data)
    expect(r.status).toBe(201)
    const facts = (await r.json()) as { infoHash: string; webSeed: string }
    expect(facts).toMatchObject({ digest: d, size: data.length, pieceLength: 64 * 1024, created: true })
    expect((await upload(seederUrl, d, data)).status).toBe(200)

    const reg = await tracker.inject({ url: `/v1/bundles/${d}`, headers: { authorization: `Bearer ${HOST}` } })
    expect(reg.json()).toMatchObject({ infoHash: facts.infoHash, seeders: ['origin-1'], hasTorrent: true })
    const torrent = await tracker.inject({ url: `/v1/bundles/${d}/torrent`, headers: { authorization: `Bearer ${HOST}` } })
    const parsed = await parseTorrent(torrent.rawPayload)
    expect(parsed).toMatchObject({ infoHash: facts.infoHash, private: true, length: data.length, name: `${d.slice(7)}.tar` })
    // The caller's torrent: its passkey in the web seed path (BEP 19 clients cannot send headers).
    expect(parsed.urlList).toEqual([`http://127.0.0.1:0/seed/${HOST}/${d.slice(7)}.tar`])

    // The web seed serves hosts and seeders only: a bearer header, or the passkey in the path.
    expect((await fetch(`${seederUrl}/bundles/${d.slice(7)}.tar`)).status).toBe(401)
    expect((await fetch(`${seederUrl}/bundles/${d.slice(7)}.tar`, { headers: { authorization: `Bearer ${PUB}` } })).status).toBe(403)
    expect((await fetch(`${seederUrl}/seed/not-a-known-token-000000/${d.slice(7)}.tar`)).status).toBe(401)
    const byPasskey = await fetch(`${seederUrl}/seed/${HOST}/${d.slice(7)}.tar`)
    expect(Buffer.from(await byPasskey.arrayBuffer()).equals(data)).toBe(true)
    const asHost = { authorization: `Bearer ${HOST}` }
    const whole = await fetch(`${seederUrl}/bundles/${d.slice(7)}.tar`, { headers: asHost })
    expect(Buffer.from(await whole.arrayBuffer()).equals(data)).toBe(true)
    const part = await fetch(`${seederUrl}/bundles/${d.slice(7)}.tar`, { headers: { ...asHost, range: 'bytes=1000-1999' } })
    expect(part.status).toBe(206)
    expect(part.headers.get('content-range')).toBe(`bytes 1000-1999/${data.length}`)
    expect(Buffer.from(await part.arrayBuffer()).equals(data.subarray(1000, 2000))).toBe(true)
    const beyond = await fetch(`${seederUrl}/bundles/${d.slice(7)}.tar`, { headers: { ...asHost, range: `bytes=${data.length}-` } })
    expect(beyond.status).toBe(416)
    expect((await fetch(`${seederUrl}/bundles/${'0'.repeat(64)}.tar`, { headers: asHost })).status).toBe(404)
  })

  it('an upload whose bytes do not match the digest is 422 BUNDLE_DIGEST_MISMATCH and leaves nothing; wrong tokens are 401/403', async () => {
    const { seederUrl, dataDir } = await stack()
    const data = randomBytes(100_000)
    const bad = await upload(seederUrl, digestOf(Buffer.from('other')), data)
    expect(bad.status).toBe(422)
    expect(await bad.json()).toMatchObject({ code: 'BUNDLE_DIGEST_MISMATCH' })
    expect(await readdir(join(dataDir, 'bundles'))).toEqual([])
    expect((await upload(seederUrl, digestOf(data), data, 'nope-nope-nope-nope-nope')).status).toBe(401)
    const forbidden = await upload(seederUrl, digestOf(data), data, HOST)
    expect(forbidden.status).toBe(403)
    expect(await forbidden.json()).toMatchObject({ code: 'AUTH_FORBIDDEN' })
  })

  it.each([
    [undefined, 100, undefined],
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=90-', 100, { start: 90, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=50-500', 100, { start: 50, end: 99 }],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=9-3', 100, 'unsatisfiable'],
    ['bytes=0-1,5-6', 100, undefined],
    ['items=0-1', 100, undefined],
  ])('parseRange(%j, %d) is %j', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected)
  })
})
