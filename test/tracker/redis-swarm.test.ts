import bencode from 'bencode'
import { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { parseTokens } from '../../src/core/index.js'
import { createTracker, type Tracker } from '../../src/tracker/index.js'
import { callApi, fakeDigest, hostToken, TOKENS, TOKENS_FILE, waitFor } from '../helpers/fleet.js'
import { startRedis, whyNoRedis, type PrivateRedis } from '../helpers/redis.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const SKIPPED = whyNoRedis()
const redis: PrivateRedis | undefined = SKIPPED ? undefined : await startRedis()
afterAll(() => redis?.stop())
const tempDir = useTempDirs()
const running: Tracker[] = []
afterEach(async () => {
  for (const t of running.splice(0)) await t.stop()
})

const INFOHASH = 'ab'.repeat(20)
const pct = (hex: string): string => hex.replace(/../g, '%$&')

/** A replica on its own level store with the test bundle registered, sharing swarms through the private Redis under `prefix`. */
async function replica(prefix: string): Promise<{ url: string; tracker: Tracker }> {
  const tracker = createTracker({ dataDir: await tempDir(), redis: `${redis!.url}`, tokens: parseTokens(TOKENS_FILE), port: 0, redisPrefix: prefix })
  running.push(tracker)
  const { url } = await tracker.start()
  const r = await callApi(url, 'PUT', `/v1/bundles/${fakeDigest(1)}`, TOKENS.seeder, { size: 100, infoHash: INFOHASH, pieceLength: 262144, webSeeds: [], seeder: 'origin-1' })
  expect(r.status).toBe(200)
  return { url, tracker }
}

/** Announces as host `host` (its own token) from 127.0.0.1:port; the compact peers' ports of the answer. */
async function announce(base: string, host: string, port: number, event = 'started'): Promise<number[]> {
  const peerId = Buffer.from(`-SH0100-${host}`.padEnd(20, 'x')).toString('hex')
  const r = await fetch(`${base}/announce/${hostToken(host)}?info_hash=${pct(INFOHASH)}&peer_id=${pct(peerId)}&port=${port}&left=100&compact=1&event=${event}`)
  const d = bencode.decode(Buffer.from(await r.arrayBuffer())) as { peers?: Uint8Array; 'failure reason'?: Uint8Array }
  if (d['failure reason']) throw new Error(Buffer.from(d['failure reason']).toString())
  const peers = Buffer.from(d.peers ?? new Uint8Array())
  return Array.from({ length: peers.length / 6 }, (_, i) => peers.readUInt16BE(i * 6 + 4)).sort((a, b) => a - b)
}

let prefixes = 0
const nextPrefix = (): string => `t${process.pid}-${prefixes++}`

describe('swarms shared by tracker replicas through Redis (issue 19)', () => {
  it.skipIf(!redis)(`a peer announced to one replica is in another's answers; a stopped one leaves them${SKIPPED ? ` (SKIPPED: ${SKIPPED})` : ''}`, async () => {
    const prefix = nextPrefix()
    const [a, b] = [await replica(prefix), await replica(prefix)]
    expect(await announce(a.url, 'h1', 7001)).toEqual([])
    // h2 asks replica b, which never heard from h1 itself.
    await waitFor('h1 (announced to a) in b\'s answer', async () => (await announce(b.url, 'h2', 7002)).includes(7001), 5_000)
    await waitFor('h2 (announced to b) in a\'s answer', async () => (await announce(a.url, 'h1', 7001)).join() === '7002', 5_000)
    await announce(a.url, 'h1', 7001, 'stopped')
    await waitFor('h1 gone from b\'s answer', async () => !(await announce(b.url, 'h2', 7002)).includes(7001), 5_000)
    // A third replica started now loads the swarm from Redis without anyone announcing again.
    const c = await replica(prefix)
    expect(await announce(c.url, 'h3', 7003)).toEqual([7002])
  })

  it.skipIf(!redis)(`Redis killed and restarted empty: /readyz says so meanwhile, announces go on from each replica's copy, and the replicas refill Redis on their own${SKIPPED ? ` (SKIPPED: ${SKIPPED})` : ''}`, async () => {
    const prefix = nextPrefix()
    const [a, b] = [await replica(prefix), await replica(prefix)]
    await announce(a.url, 'h1', 7101)
    await announce(b.url, 'h2', 7102)
    await waitFor('both peers on a', async () => (await announce(a.url, 'h3', 7103)).length === 2, 5_000)
    // and h3 (announced to a) on b, before Redis goes away
    await waitFor('h1 and h3 on b', async () => (await announce(b.url, 'h2', 7102)).join() === '7101,7103', 5_000)
    const client = new Redis(redis!.url, { lazyConnect: true })
    client.on('error', () => {})
    try {
      const stopped = redis!.restart()
      await waitFor('a not ready while Redis is away', async () => (await fetch(`${a.url}/readyz`)).status === 503, 10_000).catch(() => undefined)
      await stopped
      await client.connect()
      // Announces during and after the outage are answered from what each replica holds.
      expect(await announce(b.url, 'h2', 7102)).toEqual([7101, 7103])
      await waitFor('the replicas wrote their peers back', async () => (await client.hlen(`${prefix}:peers:${INFOHASH}`)) === 3, 15_000)
      await waitFor('a ready again', async () => (await fetch(`${a.url}/readyz`)).status === 200, 10_000)
      const c = await replica(prefix)
      expect(await announce(c.url, 'h4', 7104)).toEqual([7101, 7102, 7103])
    } finally {
      client.disconnect()
    }
  })

  it.skipIf(!redis)(`hostile or broken messages on the shared channel and hash are ignored, within the per-source bound${SKIPPED ? ` (SKIPPED: ${SKIPPED})` : ''}`, async () => {
    const prefix = nextPrefix()
    const a = await replica(prefix)
    const client = new Redis(redis!.url)
    try {
      const good = (port: number, i: number) => ({ peerId: i.toString(16).padStart(40, '0'), source: 'host:flood', origin: false, compact: Buffer.from([127, 0, 0, 1, port >> 8, port & 255]).toString('base64'), complete: false, expires: Date.now() + 60_000 })
      await client.publish(`${prefix}:peers`, 'not json')
      await client.publish(`${prefix}:peers`, JSON.stringify({ r: 'x', c: [[INFOHASH, 'u', { ...good(7201, 1), compact: 'AAAA' }], ['../../etc', 'u', good(7202, 2)], [INFOHASH, 'u', { ...good(7203, 3), peerId: 'zz' }], 42, null] }))
      // One source floods 50 peers: it keeps its share (4), like a flood announced directly.
      await client.publish(`${prefix}:peers`, JSON.stringify({ r: 'x', c: Array.from({ length: 50 }, (_, i) => [INFOHASH, 'u', good(7300 + i, 100 + i)]) }))
      await waitFor('the flood applied', async () => (await announce(a.url, 'h1', 7001)).length > 0, 5_000)
      const seen = await announce(a.url, 'h1', 7001)
      expect(seen).toEqual([7346, 7347, 7348, 7349])
      expect((await fetch(`${a.url}/readyz`)).status).toBe(200)
    } finally {
      client.disconnect()
    }
  })
})
