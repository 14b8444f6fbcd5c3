import type { FastifyInstance } from 'fastify'
import { afterAll, describe, expect, it } from 'vitest'
import type { RolloutRecord, Target } from '../../src/core/index.js'
import { createPostgresStore } from '../../src/tracker/index.js'
import { fakeDigest, hostToken, TOKENS } from '../helpers/fleet.js'
import { startPostgres, whyNoPostgres, type PrivatePostgres } from '../helpers/postgres.js'
import { useTrackerApps } from '../helpers/tracker-apps.js'

const { app: replica, call } = useTrackerApps()
const SKIPPED = whyNoPostgres()
const pgi: PrivatePostgres | undefined = SKIPPED ? undefined : await startPostgres()
afterAll(() => pgi?.stop())

async function waitUntil(what: string, probe: () => Promise<boolean>, boundMs = 15_000): Promise<void> {
  const until = Date.now() + boundMs
  while (!(await probe())) {
    if (Date.now() > until) throw new Error(`${what}: not within ${boundMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('a planned rollout driven by two tracker replicas on one PostgreSQL (issue 14)', () => {
  it.skipIf(!pgi)(`both step it, each step is taken once (compare-and-set), and each replica tells its hosts the same targets${SKIPPED ? ` (SKIPPED: ${SKIPPED})` : ''}`, async () => {
    const url = await pgi!.createDatabase()
    const storeA = createPostgresStore({ url })
    const [a, b] = [await replica(storeA), await replica(createPostgresStore({ url }))]
    const hosts = Array.from({ length: 8 }, (_, i) => `h${i}`)
    await call(a, 'PUT', '/v1/releases/app/versions/1', TOKENS.publisher, { digest: fakeDigest(1) })
    await call(a, 'PUT', '/v1/releases/app/versions/2', TOKENS.publisher, { digest: fakeDigest(2) })
    for (const [i, h] of hosts.entries()) await call(i % 2 ? a : b, 'PUT', `/v1/hosts/${h}`, hostToken(h), { labels: { rack: `r${i % 2}` }, follows: ['app@prod'] })
    await call(a, 'PUT', '/v1/channels/app/prod', TOKENS.publisher, { version: '1' })
    const gates = { waves: ['1', '50%', '100%'], by: 'rack', maxUnavailable: '100%', bakeSeconds: 0, haltAfter: '1', autoRollback: true }
    const started = await call(b, 'POST', '/v1/rollouts/app/prod', TOKENS.publisher, { version: '2', gates })
    const waves = (started.plan.waves as { hosts: number; sample: string[] }[])
    expect(waves.map((w) => w.hosts)).toEqual([1, 3, 4])
    const waveOf = new Map(waves.flatMap((w, i) => w.sample.map((h) => [h, i] as const)))

    // Hosts report through both replicas, wave by wave, as each opens; both replicas drive.
    const targetThrough = async (r: FastifyInstance, h: string): Promise<Target> => (await call(r, 'GET', `/v1/hosts/${h}/targets`, hostToken(h))).targets[0]
    const running = new Set<string>()
    await waitUntil('every host runs 2', async () => {
      for (const [i, h] of hosts.entries()) {
        const viaA = await targetThrough(a, h)
        const viaB = await targetThrough(b, h)
        // Neither replica may let a host activate before its wave opened (progress only moves
        // forward, so the store's progress read afterwards bounds what either could know).
        const progress = (await storeA.getRollout('app', 'prod', started.rollout.id))!.progress!
        for (const t of [viaA, viaB]) {
          expect(t.version).toBe('2')
          if (t.activate !== false) expect(waveOf.get(h), `${h} activated in wave ${progress.wave + 1}`).toBeLessThanOrEqual(progress.wave)
        }
        if (viaA.activate !== false && !running.has(h)) {
          await call(i % 2 ? b : a, 'POST', `/v1/hosts/${h}/reports`, hostToken(h), { digest: fakeDigest(2), state: 'running', bytesDone: 0 })
          running.add(h)
        }
      }
      return running.size === hosts.length
    })
    await waitUntil('done on both replicas', async () => (await call(a, 'GET', '/v1/rollouts/app/prod/status', TOKENS.viewer)).plan?.progress.state === 'done' && (await call(b, 'GET', '/v1/rollouts/app/prod/status', TOKENS.viewer)).plan?.progress.state === 'done')
    const history = (await call(a, 'GET', '/v1/channels/app/prod/history', TOKENS.viewer)).rollouts as RolloutRecord[]
    // Two drivers, one record of each step: no wave opened twice.
    expect(history.at(-1)!.progress!.events.map((e) => e.what)).toEqual(['started', 'wave opened', 'wave opened', 'done'])
  }, 60_000)
})
