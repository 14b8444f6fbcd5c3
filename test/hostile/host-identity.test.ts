import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { deriveHostToken, parseTokens } from '../../src/core/index.js'
import { createFetcher, type Fetcher } from '../../src/fetcher/index.js'
import { buildTracker, createTrackerStore } from '../../src/tracker/index.js'
import { HOST_KEY, hostToken, TOKENS, TOKENS_FILE, waitFor } from '../helpers/fleet.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})
const D1 = `sha256:${'1'.repeat(64)}`

async function tracker(extraTokens = ''): Promise<FastifyInstance> {
  const store = createTrackerStore({ dataDir: await tempDir() })
  await store.start()
  const app = await buildTracker({ store, tokens: parseTokens(`${TOKENS_FILE}${extraTokens}`), statusCacheMs: 0 })
  closers.push(async () => {
    await app.close()
    await store.stop()
  })
  return app
}
const as = (token: string) => ({ authorization: `Bearer ${token}` })

describe('a host token acts only for its own host (issue 12, high 1)', () => {
  it('host A\'s token cannot register, report for, read the targets of or read the reports of host B: 403 AUTH_FORBIDDEN', async () => {
    const app = await tracker(`admin admin-token-0123456789abcdef ops\nhost static-host-token-0123456789 web-7\n`)
    await app.inject({ method: 'PUT', url: '/v1/releases/web/versions/1', headers: as(TOKENS.publisher), payload: { digest: D1 } })
    await app.inject({ method: 'PUT', url: '/v1/channels/web/prod', headers: as(TOKENS.publisher), payload: { version: '1' } })
    const a = hostToken('host-a')
    expect((await app.inject({ method: 'PUT', url: '/v1/hosts/host-b', headers: as(hostToken('host-b')), payload: { follows: ['web@prod'] } })).statusCode).toBe(200)
    const attempts = [
      { method: 'PUT' as const, url: '/v1/hosts/host-b', payload: { follows: ['web@prod', 'evil@prod'] } },
      { method: 'POST' as const, url: '/v1/hosts/host-b/reports', payload: { digest: D1, state: 'running', bytesDone: 1 } },
      { method: 'GET' as const, url: '/v1/hosts/host-b/targets' },
      { method: 'GET' as const, url: `/v1/hosts/host-b/reports/${D1}` },
    ]
    for (const r of attempts) {
      const res = await app.inject({ ...r, headers: as(a) })
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(403)
      expect(res.json()).toMatchObject({ code: 'AUTH_FORBIDDEN' })
      expect(res.json().message).toContain('belongs to host host-a')
    }
    // B's follows are what B said, not what A tried.
    expect((await app.inject({ url: '/v1/hosts/host-b/targets', headers: as(hostToken('host-b')) })).json().targets.map((t: { follow: string }) => t.follow)).toEqual(['web@prod'])
    // Its own host is fine; a static host token acts for the host it names; admin acts for any.
    expect((await app.inject({ method: 'PUT', url: '/v1/hosts/host-a', headers: as(a), payload: {} })).statusCode).toBe(200)
    expect((await app.inject({ method: 'PUT', url: '/v1/hosts/web-7', headers: as('static-host-token-0123456789'), payload: {} })).statusCode).toBe(200)
    expect((await app.inject({ method: 'PUT', url: '/v1/hosts/web-8', headers: as('static-host-token-0123456789'), payload: {} })).statusCode).toBe(403)
    expect((await app.inject({ method: 'PUT', url: '/v1/hosts/host-b', headers: as('admin-token-0123456789abcdef'), payload: { follows: ['web@prod'] } })).statusCode).toBe(200)
  })

  it('a derived token with a forged MAC, another key, or a name edited in is AUTH_INVALID; a host line without a host id is refused', async () => {
    const app = await tracker()
    const good = hostToken('host-a')
    const forged = [
      `${good.slice(0, -2)}AA`,
      deriveHostToken('another-fleet-key-0123456789abcdef', 'host-a'),
      good.replace('host-a', 'host-b'),
      'sht1.host-a.',
      'sht1..' + good.split('.').pop(),
    ]
    for (const t of forged) {
      const r = await app.inject({ method: 'PUT', url: '/v1/hosts/host-a', headers: as(t), payload: {} })
      expect(r.statusCode, t).toBe(401)
    }
    expect(() => parseTokens('host host-token-0123456789abcdef\n')).toThrow(/must name the host id/)
    expect(() => parseTokens('host-key short\n')).toThrow(/at least 32/)
    expect(deriveHostToken(HOST_KEY, 'host-a')).toBe(good)
  })
})

describe('the fetcher trusts nothing in a targets answer (issue 12, high 1 and medium 3)', () => {
  /** A tracker that answers with whatever targets the test gives it, and records what it is asked. */
  async function lyingTracker(targets: unknown[]): Promise<{ url: string; asked: string[] }> {
    const app = Fastify()
    const asked: string[] = []
    app.addHook('onRequest', async (req) => void asked.push(`${req.method} ${req.url}`))
    app.put('/v1/hosts/:h', async () => ({ ok: true }))
    app.post('/v1/hosts/:h/reports', async () => ({ ok: true }))
    app.get('/v1/hosts/:h/targets', async (req) => {
      const since = (req.query as { since?: string }).since
      if (since === 'e1') await new Promise((r) => setTimeout(r, 2000))
      return { targets, etag: 'e1' }
    })
    app.get('/v1/bundles/*', async (_req, reply) => reply.status(404).send({ statusCode: 404, code: 'NOT_FOUND', message: 'no' }))
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    closers.push(() => app.close())
    return { url, asked }
  }

  async function fetcherFor(url: string, dir: string, logs: string[]): Promise<Fetcher> {
    const f = createFetcher({
      dataDir: join(dir, 'data'),
      tracker: { url, token: hostToken('h1') },
      hostId: 'h1',
      follows: ['web@prod'],
      peerPort: 0,
      listenHost: '127.0.0.1',
      retryMs: { min: 50, max: 50 },
      log: (_level, msg, fields) => void logs.push(`${msg} ${JSON.stringify(fields ?? {})}`),
    })
    await f.start()
    closers.push(() => f.stop())
    return f
  }

  it('a target digest that is a path (sha256:../../../../x) or not hex is refused as RESPONSE_INVALID before any file or request is made', async () => {
    const dir = await tempDir()
    for (const digest of ['sha256:../../../../../../tmp/shoal-escape', 'sha256:ZZZ', `sha256:${'a'.repeat(64)}/../../x`]) {
      const { url, asked } = await lyingTracker([{ follow: 'web@prod', release: 'web', version: '1', digest, rolloutId: 'r1' }])
      const logs: string[] = []
      const f = await fetcherFor(url, dir, logs)
      await waitFor('the answer to be refused', async () => logs.some((l) => l.includes('RESPONSE_INVALID') || l.includes('Cannot use the targets answer')), 10_000)
      expect(f.status()).toEqual([])
      expect(asked.filter((a) => a.includes('/v1/bundles/'))).toEqual([])
      await f.stop()
    }
    // Nothing was written anywhere but data/cache and data/partial, and both are empty.
    expect((await readdir(dir)).sort()).toEqual(['data'])
    expect((await readdir(join(dir, 'data'))).sort()).toEqual(['cache', 'partial'])
    expect(await readdir(join(dir, 'data', 'partial'))).toEqual([])
  })

  it('a well-formed target for a channel the host does not follow is ignored: no torrent is asked for, nothing is run', async () => {
    const dir = await tempDir()
    const { url, asked } = await lyingTracker([{ follow: 'evil@prod', release: 'evil', version: '6.6.6', digest: `sha256:${'e'.repeat(64)}`, rolloutId: 'r1' }])
    const logs: string[] = []
    const f = await fetcherFor(url, dir, logs)
    await waitFor('the target to be ignored', async () => logs.some((l) => l.includes('ignoring targets this host does not follow')), 10_000)
    expect(f.status()).toEqual([])
    expect(asked.filter((a) => a.includes('/v1/bundles/'))).toEqual([])
  })
})
