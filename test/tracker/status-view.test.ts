import type { FastifyInstance } from 'fastify'
import { afterAll, describe, expect, it } from 'vitest'
import { HOST_STATES } from '../../src/core/index.js'
import { computeRolloutStatus, createPostgresStore, createTrackerStore, type RolloutStatus, type TrackerStore } from '../../src/tracker/index.js'
import { fakeDigest, hostToken, TOKENS } from '../helpers/fleet.js'
import { startPostgres, whyNoPostgres, type PrivatePostgres } from '../helpers/postgres.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { useTrackerApps } from '../helpers/tracker-apps.js'

const { app, call, cleanups } = useTrackerApps()
const SKIPPED = whyNoPostgres()
const pgi: PrivatePostgres | undefined = SKIPPED ? undefined : await startPostgres()
afterAll(() => pgi?.stop())
const tempDir = useTempDirs()

/** A seeded generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => ((x = (x * 1664525 + 1013904223) >>> 0) / 2 ** 32)
}


/** The status with what legitimately differs between the two ways of computing it taken out: which of several equal stragglers or failed hosts are named. */
function comparable(s: RolloutStatus): unknown {
  return {
    ...s,
    stragglers: s.stragglers.map((x) => [x.state, x.bytesDone, x.lastReportAt]),
    failures: s.failures.map((f) => ({ code: f.code, count: f.count, examples: f.exampleHosts.length })),
  }
}

/** Random hosts (un)follow and report; after every step the status read through the API equals a full pass over the store. */
async function exercise(write: FastifyInstance, read: FastifyInstance, store: TrackerStore, seed: number, steps: number, settle: () => Promise<void>): Promise<void> {
  const random = rng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!
  await call(write, 'PUT', '/v1/releases/web/versions/1', TOKENS.publisher, { digest: fakeDigest(1) })
  await call(write, 'PUT', '/v1/channels/web/prod', TOKENS.publisher, { version: '1' })
  const hosts = Array.from({ length: 30 }, (_, i) => `h${i}`)
  for (const h of hosts.slice(0, 10)) await call(write, 'PUT', `/v1/hosts/${h}`, hostToken(h), { follows: ['web@prod'] })
  await call(read, 'GET', '/v1/rollouts/web/prod/status', TOKENS.viewer) // the view exists from here on
  for (let step = 0; step < steps; step++) {
    const h = pick(hosts)
    const r = random()
    if (r < 0.15) await call(write, 'PUT', `/v1/hosts/${h}`, hostToken(h), { follows: random() < 0.7 ? ['web@prod'] : ['web@canary'] })
    else if (r < 0.2 && step > steps / 2) {
      await call(write, 'PUT', `/v1/releases/web/versions/${step}`, TOKENS.publisher, { digest: fakeDigest(1 + (step % 2)) })
      await call(write, 'PUT', '/v1/channels/web/prod', TOKENS.publisher, { version: String(step) })
    } else {
      if (!(await store.getHost(h))) {
        await call(write, 'PUT', `/v1/hosts/${h}`, hostToken(h), { follows: ['web@prod'] })
        await settle()
      }
      const digest = pick([fakeDigest(1), fakeDigest(1), fakeDigest(2)])
      const state = pick(HOST_STATES.filter((s) => s !== 'pending'))
      const bytes = Math.floor(random() * 4) * 1000
      await call(write, 'POST', `/v1/hosts/${h}/reports`, hostToken(h), { digest, state, bytesDone: bytes, bytesFromPeers: bytes, bytesFromOrigin: Math.floor(random() * 3), peers: 1, rate: 1, ...(state === 'failed' ? { errorCode: pick(['BUNDLE_CORRUPT', 'LAUNCH_FAILED', 'DISK_FULL']) } : {}) })
    }
    await settle()
    const ch = (await store.getChannel('web', 'prod'))!
    const followers = (await store.listHosts()).filter((x) => x.follows.includes('web@prod'))
    const expected = computeRolloutStatus(ch, (await store.rolloutHistory('web', 'prod')).at(-1), followers, await store.reportsFor(ch.digest))
    const got = (await call(read, 'GET', '/v1/rollouts/web/prod/status', TOKENS.viewer)) as RolloutStatus
    expect(comparable(got), `seed ${seed} step ${step}`).toEqual(comparable(expected))
  }
}

describe('rollout status as incremental counters (issue 19)', () => {
  it('on level: after every report, host change and move, the counters give what a full pass over the store gives', async () => {
    const store = createTrackerStore({ dataDir: await tempDir() })
    const a = await app(store)
    await exercise(a, a, store, 7, 300, async () => {})
  })

  it.skipIf(!pgi)(`on postgres, written through one replica and read through another (which learns of them by NOTIFY): the same${SKIPPED ? ` (SKIPPED: ${SKIPPED})` : ''}`, async () => {
    const url = await pgi!.createDatabase()
    const writer = createPostgresStore({ url })
    const readerStore = createPostgresStore({ url })
    const [w, r] = [await app(writer), await app(readerStore)]
    // Each step waits (bounded) until the reader replica has been told of the write.
    let told = 0
    let seen = 0
    let wake = (): void => {}
    const off = readerStore.watch!(() => {
      told++
      wake()
    })
    cleanups.push(async () => off())
    await exercise(w, r, writer, 11, 150, async () => {
      if (told === seen) {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('the reader replica was not told of a write within 5 s')), 5_000)
          wake = () => {
            clearTimeout(t)
            resolve()
          }
        })
      }
      seen = told
    })
  })
})
