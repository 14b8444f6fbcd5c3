import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { deriveHostToken, type RolloutRecord, type Target } from '../../src/core/index.js'
import { buildTracker, createTrackerStore, parseTokens, type TrackerStore } from '../../src/tracker/index.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const HOST_KEY = 'plan-api-host-key-0123456789abcdef0123'
const TOKENS = { publisher: 'pub-token-0123456789abcdef', viewer: 'view-token-0123456789abcdef', admin: 'admin-token-0123456789abcdef' }
const tokensText = `publisher ${TOKENS.publisher} ci\nviewer ${TOKENS.viewer} eng\nadmin ${TOKENS.admin} ops\nhost-key ${HOST_KEY} fleet\n`
const bearer = (t: string) => ({ authorization: `Bearer ${t}` })
const hostAuth = (h: string) => bearer(deriveHostToken(HOST_KEY, h))
const D = (i: number) => `sha256:${String(i).repeat(64)}`

const open: Array<{ app: FastifyInstance; store: TrackerStore }> = []
afterEach(async () => {
  for (const { app, store } of open.splice(0)) {
    await app.close()
    await store.stop()
  }
})

async function tracker(dataDir: string): Promise<FastifyInstance> {
  const store = createTrackerStore({ dataDir })
  await store.start()
  const app = await buildTracker({ store, tokens: parseTokens(tokensText), logger: false, statusCacheMs: 0 })
  open.push({ app, store })
  return app
}

async function call(app: FastifyInstance, method: 'GET' | 'PUT' | 'POST', url: string, headers: Record<string, string>, payload?: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON for assertions
  const r = await app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) })
  return { status: r.statusCode, body: r.body ? r.json() : undefined }
}

const hosts = Array.from({ length: 6 }, (_, i) => ({ id: `h${i}`, rack: `r${i % 2}` }))
const gates = { waves: ['1', '100%'], by: 'rack', maxUnavailable: '50%', bakeSeconds: 0, haltAfter: '1', autoRollback: true }

async function setUp(app: FastifyInstance): Promise<void> {
  for (const [i, v] of ['1', '2', '3'].entries()) expect((await call(app, 'PUT', `/v1/releases/web/versions/${v}`, bearer(TOKENS.publisher), { digest: D(i + 1) })).status).toBe(201)
  for (const h of hosts) expect((await call(app, 'PUT', `/v1/hosts/${h.id}`, hostAuth(h.id), { labels: { rack: h.rack }, follows: ['web@prod'] })).status).toBe(200)
  expect((await call(app, 'PUT', '/v1/channels/web/prod', bearer(TOKENS.publisher), { version: '1' })).status).toBe(200)
  for (const h of hosts) await report(app, h.id, D(1), 'running')
}
const report = async (app: FastifyInstance, host: string, digest: string, state: string, errorCode?: string) =>
  expect((await call(app, 'POST', `/v1/hosts/${host}/reports`, hostAuth(host), { digest, state, bytesDone: 0, ...(errorCode ? { errorCode } : {}) })).status).toBe(200)
const targetOf = async (app: FastifyInstance, host: string): Promise<Target> => (await call(app, 'GET', `/v1/hosts/${host}/targets`, hostAuth(host))).body.targets[0]
const statusOf = async (app: FastifyInstance) => (await call(app, 'GET', '/v1/rollouts/web/prod/status', bearer(TOKENS.viewer))).body

describe('planned rollouts over the API (issue 14)', () => {
  it('dry run changes nothing; a start tells the canary to activate and the rest to stage and hold; the plan survives a restart and advances on reports', async () => {
    const dir = await tempDir()
    let app = await tracker(dir)
    await setUp(app)
    const dry = await call(app, 'POST', '/v1/rollouts/web/prod', bearer(TOKENS.publisher), { version: '2', gates, dryRun: true })
    expect(dry.status).toBe(200)
    expect(dry.body.dryRun).toBe(true)
    expect(dry.body.plan.waves.map((w: { hosts: number }) => w.hosts)).toEqual([1, 5])
    expect((await statusOf(app)).version).toBe('1')

    // A host token cannot start or control a rollout; a viewer neither.
    expect((await call(app, 'POST', '/v1/rollouts/web/prod', hostAuth('h0'), { version: '2', gates })).status).toBe(403)
    expect((await call(app, 'POST', '/v1/rollouts/web/prod', bearer(TOKENS.viewer), { version: '2', gates })).status).toBe(403)
    const started = await call(app, 'POST', '/v1/rollouts/web/prod', bearer(TOKENS.publisher), { version: '2', gates })
    expect(started.status).toBe(200)
    const canary = started.body.plan.waves[0].sample[0] as string
    const rest = hosts.map((h) => h.id).filter((h) => h !== canary)
    expect(await targetOf(app, canary)).toMatchObject({ version: '2', digest: D(2) })
    expect((await targetOf(app, canary)).activate).toBeUndefined()
    for (const h of rest) expect(await targetOf(app, h)).toMatchObject({ version: '2', activate: false, hold: { version: '1', digest: D(1) } })
    for (const h of rest) await report(app, h, D(2), 'staged')

    // kill -9 of the tracker is a restart on the same data: the plan and where it stands are on disk.
    await open[0]!.app.close()
    await open[0]!.store.stop()
    open.splice(0)
    app = await tracker(dir)
    expect(await targetOf(app, rest[0]!)).toMatchObject({ activate: false })
    const st = await statusOf(app)
    expect(st.plan.progress).toMatchObject({ state: 'running', wave: 0 })
    expect(st.byState.staged).toBe(5)

    // The canary runs healthy: wave 2 opens within a tick; its hosts (batches of 50% of a rack of 3) activate in turn.
    await report(app, canary, D(2), 'running')
    await waitUntil(async () => (await statusOf(app)).plan.progress.wave === 1)
    const activated = async () => (await Promise.all(rest.map((h) => targetOf(app, h)))).filter((t) => t.activate !== false).length
    expect(await activated()).toBe(2) // one host of each rack
    for (const h of rest) await report(app, h, D(2), 'running')
    await waitUntil(async () => (await statusOf(app)).plan.progress.state === 'done')
    expect(await activated()).toBe(5)
    const events = (await statusOf(app)).plan.progress.events.map((e: { what: string }) => e.what)
    expect(events).toEqual(['started', 'wave opened', 'done'])
  }, 60_000)

  it('pause holds the next batch, resume continues, abort sends activated hosts back; each is in the history, and undo is a move', async () => {
    const app = await tracker(await tempDir())
    await setUp(app)
    const started = await call(app, 'POST', '/v1/rollouts/web/prod', bearer(TOKENS.publisher), { version: '2', gates: { ...gates, haltAfter: '3' } })
    const canary = started.body.plan.waves[0].sample[0] as string
    expect((await call(app, 'POST', '/v1/rollouts/web/prod/pause', hostAuth(canary))).status).toBe(403)
    const paused = await call(app, 'POST', '/v1/rollouts/web/prod/pause', bearer(TOKENS.publisher))
    expect(paused.status).toBe(200)
    expect(paused.body.progress.state).toBe('paused')
    expect((await call(app, 'POST', '/v1/rollouts/web/prod/pause', bearer(TOKENS.publisher))).body.code).toBe('ROLLOUT_STATE')
    await report(app, canary, D(2), 'running')
    // Paused: the canary is up, but wave 2 does not open.
    await new Promise((r) => setTimeout(r, 1_500)) // a tick (1 s) passes; nothing may happen in it
    expect((await statusOf(app)).plan.progress.wave).toBe(0)
    expect((await call(app, 'POST', '/v1/rollouts/web/prod/resume', bearer(TOKENS.admin))).body.progress.state).toBe('running')
    await waitUntil(async () => (await statusOf(app)).plan.progress.wave === 1)

    const aborted = await call(app, 'POST', '/v1/rollouts/web/prod/abort', bearer(TOKENS.publisher))
    expect(aborted.body.progress).toMatchObject({ state: 'aborted', rolledBack: true })
    for (const h of hosts) expect(await targetOf(app, h.id)).toMatchObject({ version: '1', digest: D(1) })
    expect((await call(app, 'POST', '/v1/rollouts/web/prod/resume', bearer(TOKENS.publisher))).status).toBe(409)

    const history = (await call(app, 'GET', '/v1/channels/web/prod/history', bearer(TOKENS.viewer))).body.rollouts as RolloutRecord[]
    expect(history.at(-1)!.progress!.events.map((e) => `${e.what} ${e.by}`)).toEqual(['started ci', 'paused ci', 'resumed ops', 'wave opened tracker', 'aborted ci'])
    // Undo is a plain move back, recorded like any move; a plain move has no plan to control.
    expect((await call(app, 'PUT', '/v1/channels/web/prod', bearer(TOKENS.publisher), { version: '1' })).status).toBe(200)
    expect((await call(app, 'POST', '/v1/rollouts/web/prod/pause', bearer(TOKENS.publisher))).body.code).toBe('ROLLOUT_STATE')
    expect((await statusOf(app)).plan).toBeUndefined()
  }, 60_000)

  it('failures in the open wave halt it at --halt-after; without --auto-rollback the canary stays and the rest keep the old version', async () => {
    const app = await tracker(await tempDir())
    await setUp(app)
    const started = await call(app, 'POST', '/v1/rollouts/web/prod', bearer(TOKENS.publisher), { version: '3', gates: { ...gates, autoRollback: false } })
    const canary = started.body.plan.waves[0].sample[0] as string
    await report(app, canary, D(3), 'unhealthy', 'UNHEALTHY')
    await waitUntil(async () => (await statusOf(app)).plan.progress.state === 'halted')
    const st = await statusOf(app)
    expect(st.plan.progress.rolledBack).toBe(false)
    expect(st.plan.progress.reason).toContain(`${canary} (UNHEALTHY)`)
    expect(st.failures).toEqual([expect.objectContaining({ code: 'UNHEALTHY', count: 1 })])
    expect(await targetOf(app, canary)).toMatchObject({ version: '3' })
    for (const h of hosts.filter((x) => x.id !== canary)) expect(await targetOf(app, h.id)).toMatchObject({ activate: false, hold: { version: '1' } })
  }, 60_000)

  it('refuses gates outside the contract and an unpublished version', async () => {
    const app = await tracker(await tempDir())
    await setUp(app)
    for (const bad of [{ ...gates, waves: [] }, { ...gates, waves: ['0'] }, { ...gates, maxUnavailable: '150%' }, { ...gates, by: 'Rack!' }, { ...gates, bakeSeconds: -1 }]) {
      const r = await call(app, 'POST', '/v1/rollouts/web/prod', bearer(TOKENS.publisher), { version: '2', gates: bad })
      expect(r.status, JSON.stringify(bad)).toBe(400)
    }
    expect((await call(app, 'POST', '/v1/rollouts/web/prod', bearer(TOKENS.publisher), { version: '9', gates })).body.code).toBe('NOT_FOUND')
  })
})

async function waitUntil(probe: () => Promise<boolean>, boundMs = 10_000): Promise<void> {
  const until = Date.now() + boundMs
  while (!(await probe())) {
    if (Date.now() > until) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}
