import { Writable } from 'node:stream'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { deriveHostToken } from '../../src/core/index.js'
import { buildTracker, createTrackerStore, parseTokens, type TrackerStore } from '../../src/tracker/index.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const HOST_KEY = 'tracker-api-host-key-0123456789abcdef'
const TOKENS = {
  publisher: 'pub-token-0123456789abcdef',
  seeder: 'seed-token-0123456789abcdef',
  host: deriveHostToken(HOST_KEY, 'h1'),
  viewer: 'view-token-0123456789abcdef',
  admin: 'admin-token-0123456789abcdef',
}
const tokensText = `${Object.entries(TOKENS).filter(([role]) => role !== 'host').map(([role, t]) => `${role} ${t} ${role}-bot`).join('\n')}\nhost-key ${HOST_KEY} fleet\n`
const hostAuth = (h: string) => ({ authorization: `Bearer ${deriveHostToken(HOST_KEY, h)}` })
const D1 = `sha256:${'1'.repeat(64)}`
const D2 = `sha256:${'2'.repeat(64)}`

const open: Array<{ app: FastifyInstance; store: TrackerStore }> = []
afterEach(async () => {
  for (const { app, store } of open.splice(0)) {
    await app.close()
    await store.stop()
  }
})

async function tracker(logLines?: string[]): Promise<FastifyInstance> {
  const store = createTrackerStore({ dataDir: await tempDir() })
  await store.start()
  const stream = new Writable({ write: (c, _e, cb) => (logLines?.push(String(c)), cb()) })
  const app = await buildTracker({ store, tokens: parseTokens(tokensText), logger: logLines ? { level: 'info', stream } : false, maxWatchSeconds: 10, statusCacheMs: 0 })
  open.push({ app, store })
  return app
}

/** Every METHOD /path fastify routes (HEAD aside), read from its printed route tree, in OpenAPI's {param} spelling. */
function routesOf(app: FastifyInstance): string[] {
  const out: string[] = []
  const stack: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[└├]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (!m) continue
    const depth = m[1]!.length / 4
    stack.length = depth
    const path = (stack[depth - 1] ?? '').replace(/\/$/, '') + (depth === 0 || m[2]!.startsWith('/') ? '' : '/') + m[2]!
    stack[depth] = path
    for (const method of (m[3] ?? '').split(', ')) if (method && method !== 'HEAD') out.push(`${method} ${path.replace(/:(\w+)/g, '{$1}')}`)
  }
  return out
}

const auth = (role: keyof typeof TOKENS) => ({ authorization: `Bearer ${TOKENS[role]}` })

async function publish(app: FastifyInstance, version: string, digest: string): Promise<void> {
  const r = await app.inject({ method: 'PUT', url: `/v1/releases/web/versions/${version}`, headers: auth('publisher'), payload: { digest } })
  expect([200, 201]).toContain(r.statusCode)
}

describe('tracker API', () => {
  it('buildTracker() answers 401 AUTH_MISSING, 401 AUTH_INVALID and 403 AUTH_FORBIDDEN, and never logs a token', async () => {
    const logs: string[] = []
    const app = await tracker(logs)
    const missing = await app.inject({ method: 'PUT', url: '/v1/releases/web/versions/1', payload: { digest: D1 } })
    expect(missing.statusCode).toBe(401)
    expect(missing.json()).toMatchObject({ statusCode: 401, code: 'AUTH_MISSING' })
    const wrong = await app.inject({ method: 'PUT', url: '/v1/releases/web/versions/1', headers: { authorization: 'Bearer not-a-real-token-xxxxxxxx' }, payload: { digest: D1 } })
    expect(wrong.json()).toMatchObject({ statusCode: 401, code: 'AUTH_INVALID' })
    const forbidden = await app.inject({ method: 'PUT', url: '/v1/releases/web/versions/1', headers: auth('host'), payload: { digest: D1 } })
    expect(forbidden.json()).toMatchObject({ statusCode: 403, code: 'AUTH_FORBIDDEN' })
    const ok = await app.inject({ method: 'PUT', url: '/v1/releases/web/versions/1', headers: auth('publisher'), payload: { digest: D1 } })
    expect(ok.statusCode).toBe(201)
    const all = logs.join('')
    expect(all).toContain('"url":"/v1/releases/web/versions/1"')
    for (const t of [...Object.values(TOKENS), 'not-a-real-token-xxxxxxxx']) expect(all).not.toContain(t)
  })

  it('PUT /v1/releases/:r/versions/:v is immutable: 201, then 200 for the same digest, 409 VERSION_CONFLICT for another', async () => {
    const app = await tracker()
    const put = (digest: string) => app.inject({ method: 'PUT', url: '/v1/releases/web/versions/1.4.2', headers: auth('publisher'), payload: { digest } })
    expect((await put(D1)).statusCode).toBe(201)
    expect((await put(D1)).statusCode).toBe(200)
    const conflict = await put(D2)
    expect(conflict.statusCode).toBe(409)
    expect(conflict.json()).toMatchObject({ code: 'VERSION_CONFLICT' })
    const got = await app.inject({ url: '/v1/releases/web/versions/1.4.2', headers: auth('viewer') })
    expect(got.json()).toMatchObject({ digest: D1, publishedBy: 'publisher-bot', schema: 1 })
  })

  it('PUT /v1/channels records every move as a rollout and GET /history keeps them in order', async () => {
    const app = await tracker()
    await publish(app, '1', D1)
    await publish(app, '2', D2)
    for (const v of ['1', '2', '1']) {
      const r = await app.inject({ method: 'PUT', url: '/v1/channels/web/prod', headers: auth('publisher'), payload: { version: v } })
      expect(r.statusCode).toBe(200)
    }
    const history = (await app.inject({ url: '/v1/channels/web/prod/history', headers: auth('viewer') })).json().rollouts
    expect(history.map((h: { fromVersion: string | null; toVersion: string; by: string }) => [h.fromVersion, h.toVersion, h.by])).toEqual([
      [null, '1', 'publisher-bot'],
      ['1', '2', 'publisher-bot'],
      ['2', '1', 'publisher-bot'],
    ])
    const missing = await app.inject({ method: 'PUT', url: '/v1/channels/web/prod', headers: auth('publisher'), payload: { version: '9' } })
    expect(missing.json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' })
  })

  it('GET /v1/rollouts/:r/:c/status counts hosts per state, failures by code, times and origin offload from reports', async () => {
    const app = await tracker()
    await publish(app, '1', D1)
    await app.inject({ method: 'PUT', url: '/v1/channels/web/prod', headers: auth('publisher'), payload: { version: '1' } })
    const hosts = ['h1', 'h2', 'h3', 'h4', 'h5']
    for (const h of hosts) {
      const r = await app.inject({ method: 'PUT', url: `/v1/hosts/${h}`, headers: hostAuth(h), payload: { labels: { region: 'eu' }, follows: ['web@prod'] } })
      expect(r.statusCode).toBe(200)
    }
    const report = (h: string, body: Record<string, unknown>) => app.inject({ method: 'POST', url: `/v1/hosts/${h}/reports`, headers: hostAuth(h), payload: { digest: D1, ...body } })
    expect((await report('h1', { state: 'running', bytesDone: 100, bytesFromPeers: 90, bytesFromOrigin: 10 })).statusCode).toBe(200)
    await report('h2', { state: 'running', bytesDone: 100, bytesFromPeers: 100, bytesFromOrigin: 0 })
    await report('h3', { state: 'downloading', bytesDone: 40, bytesFromPeers: 40 })
    await report('h4', { state: 'failed', bytesDone: 100, bytesFromOrigin: 100, errorCode: 'DISK_FULL' })
    const s = (await app.inject({ url: '/v1/rollouts/web/prod/status', headers: auth('viewer') })).json()
    expect(s).toMatchObject({ version: '1', digest: D1, hosts: 5, percentRunning: 40, bytesFromPeers: 230, bytesFromOrigin: 110 })
    expect(s.byState).toEqual({ pending: 1, downloading: 1, verifying: 0, unpacking: 0, staged: 0, launching: 0, running: 2, unhealthy: 0, failed: 1, lost: 0 })
    expect(s.failures).toEqual([{ code: 'DISK_FULL', count: 1, exampleHosts: ['h4'] }])
    expect(s.stragglers.map((x: { host: string }) => x.host)).toEqual(['h5', 'h3'])
    expect(s.originOffload).toBeCloseTo(230 / 340)
    expect(s.timeToRunningSeconds.max).toBeGreaterThanOrEqual(0)
    const unknownHost = await report('nobody', { state: 'running', bytesDone: 1 })
    expect(unknownHost.json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' })

    // A decommissioned host is forgotten by an admin only, and leaves the status at once.
    expect((await app.inject({ method: 'DELETE', url: '/v1/hosts/h4', headers: hostAuth('h4') })).statusCode).toBe(403)
    expect((await app.inject({ method: 'DELETE', url: '/v1/hosts/h4', headers: auth('publisher') })).statusCode).toBe(403)
    expect((await app.inject({ method: 'DELETE', url: '/v1/hosts/h4', headers: auth('admin') })).statusCode).toBe(204)
    expect((await app.inject({ method: 'DELETE', url: '/v1/hosts/h4', headers: auth('admin') })).json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' })
    expect((await app.inject({ url: '/v1/hosts/h4', headers: auth('viewer') })).statusCode).toBe(404)
    const after = (await app.inject({ url: '/v1/rollouts/web/prod/status', headers: auth('viewer') })).json()
    expect(after).toMatchObject({ hosts: 4, percentRunning: 50, failures: [] })
    expect(after.byState.failed).toBe(0)
    expect((await app.inject({ url: '/v1/hosts', headers: auth('viewer') })).json().hosts.map((h: { id: string }) => h.id)).toEqual(['h1', 'h2', 'h3', 'h5'])
  })

  it('GET /v1/hosts/:h/targets long-polls: a held request returns as soon as the channel moves', async () => {
    const app = await tracker()
    await publish(app, '1', D1)
    await publish(app, '2', D2)
    await app.inject({ method: 'PUT', url: '/v1/channels/web/prod', headers: auth('publisher'), payload: { version: '1' } })
    await app.inject({ method: 'PUT', url: '/v1/hosts/h1', headers: auth('host'), payload: { follows: ['web@prod'] } })
    const first = (await app.inject({ url: '/v1/hosts/h1/targets', headers: auth('host') })).json()
    expect(first.targets).toEqual([{ follow: 'web@prod', release: 'web', version: '1', digest: D1, rolloutId: 'web@prod#1' }])
    // Held: the response cannot arrive before the move, because the etag is unchanged until then.
    let answered = false
    const held = app.inject({ url: `/v1/hosts/h1/targets?since=${encodeURIComponent(first.etag)}&wait=10`, headers: auth('host') }).then((r) => {
      answered = true
      return r
    })
    await new Promise((r) => setImmediate(r))
    expect(answered).toBe(false)
    await app.inject({ method: 'PUT', url: '/v1/channels/web/prod', headers: auth('publisher'), payload: { version: '2' } })
    const moved = (await held).json()
    expect(moved.targets[0]).toMatchObject({ version: '2', digest: D2 })
  })

  it('hostile requests get a 4xx with a code, never a 500 (generated inputs)', async () => {
    const app = await tracker()
    await publish(app, '1', D1)
    const methods = ['GET', 'PUT', 'POST', 'DELETE'] as const
    const paths = ['/v1/releases/%s/versions/%s', '/v1/channels/%s/%s', '/v1/hosts/%s/reports', '/v1/bundles/%s', '/v1/hosts/%s/targets', '/v1/rollouts/%s/%s/status']
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...methods),
        fc.constantFrom(...paths),
        fc.array(fc.oneof(fc.string(), fc.constantFrom('..', '%2e%2e', '%00', 'a/b', '%2F', 'web', '1', D1, 'x'.repeat(300))), { minLength: 2, maxLength: 2 }),
        fc.oneof(fc.json(), fc.constant('{not json'), fc.constant(''), fc.string()),
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', undefined),
        fc.constantFrom(...(Object.keys(TOKENS) as Array<keyof typeof TOKENS>), 'none' as const),
        async (method, path, [a, b], body, contentType, role) => {
          let url = path.replace('%s', encodeURIComponent(a!)).replace('%s', encodeURIComponent(b!))
          if (url.includes('%s')) url = url.replace('%s', 'x')
          const headers: Record<string, string> = role === 'none' ? {} : auth(role)
          if (contentType) headers['content-type'] = contentType
          const r = await app.inject({ method, url, headers, payload: method === 'GET' ? undefined : body })
          expect(r.statusCode, `${method} ${url} -> ${r.body}`).toBeLessThan(500)
          if (r.statusCode >= 400) expect(r.json()).toMatchObject({ statusCode: r.statusCode, code: expect.stringMatching(/^[A-Z_]+$/) })
        },
      ),
      { numRuns: 300 },
    )
    const big = await app.inject({ method: 'PUT', url: '/v1/releases/web/versions/2', headers: { ...auth('publisher'), 'content-type': 'application/json' }, payload: JSON.stringify({ digest: D1, signature: 'x'.repeat(2 << 20) }) })
    expect(big.statusCode).toBe(413)
    expect(big.json()).toMatchObject({ code: 'REQUEST_INVALID' })
  })

  it('/openapi.json gives every route an answer schema, and every route the server has is in it (or a known wire route)', async () => {
    const app = await tracker()
    const doc = (await app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: unknown }>; description?: string }> }>> }
    const documented = new Set<string>()
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        documented.add(`${method.toUpperCase()} ${path}`)
        const ok = Object.entries(op.responses ?? {}).filter(([status]) => /^2/.test(status))
        expect(ok.length, `${method} ${path} declares no 2xx answer`).toBeGreaterThan(0)
        for (const [status, r] of ok) {
          // 204 has no body; every other answer says what its body is.
          if (status !== '204') expect(Object.values(r.content ?? {}).some((c) => c.schema !== undefined), `${method} ${path} ${status} has no schema`).toBe(true)
        }
      }
    }
    // Routes the server really has, from fastify's own table: each is documented, or is one
    // of the BitTorrent/Prometheus/page routes whose wire format is not JSON.
    const wire = new Set(['GET /announce/{passkey}', 'GET /scrape/{passkey}', 'GET /metrics', 'GET /openapi.json', 'GET /'])
    const missing: string[] = []
    for (const route of routesOf(app)) if (!documented.has(route) && !wire.has(route)) missing.push(route)
    expect(routesOf(app)).toContain('PUT /v1/hosts/{host}')
    expect(routesOf(app)).toContain('GET /v1/bundles/{digest}/torrent')
    expect(missing).toEqual([])
    expect(documented.size).toBeGreaterThan(15)
  })

  it('/openapi.json documents every /v1 route and /metrics exposes request counters', async () => {
    const app = await tracker()
    const doc = (await app.inject({ url: '/openapi.json' })).json()
    for (const p of ['/v1/releases/{release}/versions/{version}', '/v1/channels/{release}/{channel}', '/v1/rollouts/{release}/{channel}/status', '/v1/hosts/{host}/reports', '/v1/hosts/{host}/targets', '/v1/bundles/{digest}']) {
      expect(Object.keys(doc.paths)).toContain(p)
    }
    await app.inject({ url: '/v1/health' })
    const m = (await app.inject({ url: '/metrics' })).body
    expect(m).toMatch(/shoal_tracker_requests_total\{route="\/v1\/health",status="200"\} 1/)
  })
})
