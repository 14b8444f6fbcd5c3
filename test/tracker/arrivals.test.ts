import { afterEach, describe, expect, it } from 'vitest'
import { createArrivals } from '../../src/tracker/arrivals.js'
import { buildTracker, createTrackerStore, parseTokens } from '../../src/tracker/index.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const SEEDER = 'seed-token-0123456789abcdef'
const HOST = 'host-token-0123456789abcdef'
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const ih = (n: number): string => n.toString(16).padStart(40, '0')
const encodeBinary = (hex: string) => Buffer.from(hex, 'hex').toString('latin1').split('').map((c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join('')

describe('createArrivals()', () => {
  it('since() lists each swarm with arrivals after a sequence number once, newest first', async () => {
    const a = createArrivals()
    a.note(ih(1))
    a.note(ih(2))
    a.note(ih(1))
    expect(await a.since(0, 0)).toEqual({ seq: 3, infoHashes: [ih(1), ih(2)] })
    expect(await a.since(2, 0)).toEqual({ seq: 3, infoHashes: [ih(1)] })
    expect(await a.since(3, 0)).toEqual({ seq: 3, infoHashes: [] })
  })

  it('a parked since() wakes on the next arrival; one beyond maxWaiters is answered at once', async () => {
    const a = createArrivals({ maxWaiters: 1 })
    const parked = a.since(0, 30_000)
    const t0 = performance.now()
    expect(await a.since(0, 30_000)).toEqual({ seq: 0, infoHashes: [] }) // over the bound: not parked
    expect(performance.now() - t0).toBeLessThan(1_000)
    a.note(ih(7))
    expect(await parked).toEqual({ seq: 1, infoHashes: [ih(7)] })
  })

  it('keeps the last `capacity` arrivals; a reader ahead of the count (the tracker restarted) gets all of them', async () => {
    const a = createArrivals({ capacity: 3 })
    for (let i = 1; i <= 5; i++) a.note(ih(i))
    expect((await a.since(0, 0)).infoHashes).toEqual([ih(5), ih(4), ih(3)])
    expect((await a.since(99, 10_000)).infoHashes).toEqual([ih(5), ih(4), ih(3)])
  })

  it('close() answers every parked reader', async () => {
    const a = createArrivals()
    const parked = a.since(0, 30_000)
    a.close()
    expect(await parked).toEqual({ seq: 0, infoHashes: [] })
  })
})

describe('GET /v1/swarms/arrivals', () => {
  it('wakes a seeder\'s long-poll when a downloader joins a registered swarm; a seed joining is no arrival; hosts may not read it', async () => {
    const store = createTrackerStore({ dataDir: await tempDir() })
    await store.start()
    const app = await buildTracker({ store, tokens: parseTokens(`seeder ${SEEDER} origin\nhost ${HOST} fleet\n`) })
    cleanups.push(async () => {
      await app.close()
      await store.stop()
    })
    const infoHash = 'ab'.repeat(20)
    const reg = await app.inject({ method: 'PUT', url: `/v1/bundles/sha256:${'0'.repeat(64)}`, headers: { authorization: `Bearer ${SEEDER}` }, payload: { size: 100, infoHash, pieceLength: 262144, webSeeds: [], seeder: 'origin-1' } })
    expect(reg.statusCode).toBe(200)
    const poll = (after: number, wait: number, token = SEEDER) => app.inject({ url: `/v1/swarms/arrivals?after=${after}&wait=${wait}`, headers: { authorization: `Bearer ${token}` } })
    expect((await poll(0, 0, HOST)).statusCode).toBe(403)
    expect((await poll(0, 31)).statusCode).toBe(400)

    const announce = (peer: string, left: number) =>
      app.inject({ url: `/announce/${HOST}?info_hash=${encodeBinary(infoHash)}&peer_id=${encodeBinary(peer.repeat(20))}&port=6881&uploaded=0&downloaded=0&left=${left}&compact=1&event=started` })
    await announce('01', 0) // a seed
    expect((await poll(0, 0)).json()).toEqual({ seq: 0, infoHashes: [] })
    const parked = poll(0, 25)
    await announce('02', 100)
    const answer = await parked
    expect(answer.statusCode).toBe(200)
    expect(answer.json()).toEqual({ seq: 1, infoHashes: [infoHash] })
    await announce('02', 50) // the same downloader again: no new arrival
    expect((await poll(1, 0)).json()).toEqual({ seq: 1, infoHashes: [] })
  })
})
