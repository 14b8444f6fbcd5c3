import { afterAll, describe, expect, it } from 'vitest'
import { createPostgresStore } from '../../src/tracker/index.js'
import { startPostgres, whyNoPostgres, type PrivatePostgres } from '../helpers/postgres.js'
import { storeContract } from './store-contract.js'

const why = whyNoPostgres()
const pgi: PrivatePostgres | undefined = why ? undefined : await startPostgres()
afterAll(() => pgi?.stop())

if (pgi) {
  storeContract('postgres', async () => {
    const url = await pgi.createDatabase()
    const clock = { now: new Date('2026-11-29T12:00:00.000Z') }
    return { clock, open: () => createPostgresStore({ url, now: () => clock.now }) }
  })
}

describe('postgres tracker store', () => {
  it.skipIf(!pgi)(`applies its migrations once when replicas start together, and says STORE_UNAVAILABLE (not a crash) while PostgreSQL is away${why ? ` (skipped: ${why})` : ''}`, async () => {
    const url = await pgi!.createDatabase()
    const replicas = [0, 1, 2].map(() => createPostgresStore({ url }))
    await Promise.all(replicas.map((r) => r.start()))
    await replicas[0]!.putVersion({ release: 'web', version: '1', digest: `sha256:${'1'.repeat(64)}`, publishedBy: 'ci' })
    // What one replica wrote, another reads at once: nothing is cached in a replica.
    expect(await replicas[2]!.getVersion('web', '1')).toMatchObject({ publishedBy: 'ci' })
    pgi!.restart()
    // The pool's old connections died with the server; a call may fail once, typed, then recover.
    const first = await replicas[1]!.getVersion('web', '1').catch((e: unknown) => e)
    if (first instanceof Error) expect(first).toMatchObject({ code: 'STORE_UNAVAILABLE' })
    expect(await replicas[1]!.getVersion('web', '1')).toMatchObject({ publishedBy: 'ci' })
    await Promise.all(replicas.map((r) => r.stop()))
    const down = createPostgresStore({ url: 'postgres://shoal@127.0.0.1:1/none' })
    await expect(down.start()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' })
  })
})

describe('a tracker over postgres while PostgreSQL is away', () => {
  it.skipIf(!pgi)(`answers 503 STORE_UNAVAILABLE (readyz and writes) while it is down, then recovers on its own without losing what it acknowledged${why ? ` (skipped: ${why})` : ''}`, async () => {
    const { buildTracker } = await import('../../src/tracker/index.js')
    const { parseTokens } = await import('../../src/core/index.js')
    const { TOKENS, TOKENS_FILE, hostToken, waitFor } = await import('../helpers/fleet.js')
    const store = createPostgresStore({ url: await pgi!.createDatabase() })
    await store.start()
    const app = await buildTracker({ store, tokens: parseTokens(TOKENS_FILE), statusCacheMs: 0 })
    try {
      const as = (t: string) => ({ authorization: `Bearer ${t}` })
      const D = `sha256:${'a'.repeat(64)}`
      expect((await app.inject({ method: 'PUT', url: '/v1/releases/web/versions/1', headers: as(TOKENS.publisher), payload: { digest: D } })).statusCode).toBe(201)
      expect((await app.inject({ url: '/readyz' })).json()).toEqual({ ready: true })
      pgi!.halt()
      try {
        const ready = await app.inject({ url: '/readyz' })
        expect(ready.statusCode).toBe(503)
        expect(ready.json()).toMatchObject({ code: 'STORE_UNAVAILABLE' })
        const write = await app.inject({ method: 'PUT', url: '/v1/hosts/h1', headers: as(hostToken('h1')), payload: { follows: ['web@prod'] } })
        expect([write.statusCode, write.json().code]).toEqual([503, 'STORE_UNAVAILABLE'])
        expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200) // alive, just not ready
      } finally {
        pgi!.start()
      }
      await waitFor('the tracker to be ready again', async () => (await app.inject({ url: '/readyz' })).statusCode === 200, 30_000)
      expect((await app.inject({ url: '/v1/releases/web/versions/1', headers: as(TOKENS.viewer) })).json()).toMatchObject({ digest: D })
    } finally {
      await app.close()
      await store.stop()
    }
  })
})

describe('postgres store: reports written together', () => {
  it.skipIf(!pgi)(`300 reports at once are all stored and each answered with its record; the same host twice in one batch keeps the later${why ? ` (skipped: ${why})` : ''}`, async () => {
    const store = createPostgresStore({ url: await pgi!.createDatabase() })
    await store.start()
    try {
      const D = `sha256:${'c'.repeat(64)}` as const
      for (let h = 0; h < 300; h++) await store.putHost({ id: `h${h}`, labels: {}, follows: [] })
      const base = { digest: D, bytesFromPeers: 0, bytesFromOrigin: 0, peers: 0, rate: 0 }
      const answers = await Promise.all(Array.from({ length: 300 }, (_, h) => store.putReport({ ...base, hostId: `h${h}`, state: 'downloading', bytesDone: h })))
      expect(answers.map((a) => a.bytesDone)).toEqual(Array.from({ length: 300 }, (_, h) => h))
      const stored = await store.reportsFor(D)
      expect(stored).toHaveLength(300)
      expect(stored.every((r) => r.bytesDone === Number(r.hostId.slice(1)))).toBe(true)
      const [first, second] = await Promise.all([
        store.putReport({ ...base, hostId: 'h7', state: 'running', bytesDone: 1000 }),
        store.putReport({ ...base, hostId: 'h7', state: 'failed', bytesDone: 1000, errorCode: 'LAUNCH_FAILED' }),
      ])
      expect([first.state, second.state]).toEqual(['running', 'failed'])
      expect(second.firstReportAt).toBe(answers[7]!.firstReportAt)
      expect(second.runningAt).toBeDefined() // it ran before it failed: the first running time is kept
      expect(await store.getReport('h7', D)).toMatchObject({ state: 'failed', errorCode: 'LAUNCH_FAILED' })
      // A forgotten host is gone from the hosts (its reports stay); forgetting it again says so.
      expect(await store.deleteHost('h7')).toBe(true)
      expect(await store.getHost('h7')).toBeUndefined()
      expect(await store.hostCount()).toBe(299)
      expect(await store.deleteHost('h7')).toBe(false)
      expect(await store.getReport('h7', D)).toMatchObject({ state: 'failed' })
    } finally {
      await store.stop()
    }
  })
})
