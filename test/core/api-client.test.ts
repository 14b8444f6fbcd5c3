import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Type } from '@sinclair/typebox'
import { afterEach, describe, expect, it } from 'vitest'
import { createApiClient, ShoalError, type ApiClientInit } from '../../src/core/index.js'

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
})

/** A real server on loopback answering each request with the next handler (the last repeats). */
async function serve(...handlers: Handler[]): Promise<{ url: string; seen: Array<{ method: string; url: string; auth: string; body: string }> }> {
  const seen: Array<{ method: string; url: string; auth: string; body: string }> = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString('utf8')))
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization ?? '', body })
      handlers[Math.min(seen.length - 1, handlers.length - 1)]!(req, res, body)
    })
  })
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen }
}

const json = (status: number, value: unknown): Handler => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(value))
}
const text = (status: number, value: string): Handler => (_req, res) => {
  res.writeHead(status, { 'content-type': 'text/plain' })
  res.end(value)
}

const client = (url: string, extra: Partial<ApiClientInit> = {}) => createApiClient({ url, token: 'sekrit', server: 'tracker', random: () => 0.5, ...extra })
const Answer = Type.Object({ ok: Type.Boolean() }, { additionalProperties: false })

async function failure(p: Promise<unknown>): Promise<ShoalError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(ShoalError)
    return err as ShoalError
  }
  throw new Error('expected the call to fail')
}

describe('createApiClient()', () => {
  it('sends the bearer token and a JSON body to the trimmed base URL, and checks the answer against its contract', async () => {
    const s = await serve(json(200, { ok: true }))
    const answer = await client(s.url).json('POST', '/v1/things', Answer, { body: { a: 1 } })
    expect(answer).toEqual({ ok: true })
    expect(s.seen).toEqual([{ method: 'POST', url: '/v1/things', auth: 'Bearer sekrit', body: '{"a":1}' }])
  })

  it('maps a Shoal error answer to the registered error of its code, with its message, details and kind', async () => {
    const s = await serve(
      json(404, { code: 'NOT_FOUND', message: 'Cannot find web@9', details: { release: 'web' } }),
      json(403, { code: 'AUTH_FORBIDDEN', message: 'no' }),
      json(409, { code: 'VERSION_CONFLICT', message: 'exists' }),
      json(503, { code: 'LIMIT_REACHED', message: 'full' }),
    )
    const c = client(s.url)
    const nf = await failure(c.call('POST', '/a'))
    expect(nf).toMatchObject({ code: 'NOT_FOUND', message: 'Cannot find web@9', details: { release: 'web' } })
    expect((await failure(c.call('POST', '/b'))).code).toBe('AUTH_FORBIDDEN')
    expect((await failure(c.call('POST', '/c'))).code).toBe('VERSION_CONFLICT')
    // A 5xx that carries a Shoal code is that error, not "unreachable".
    expect((await failure(c.call('POST', '/d'))).code).toBe('LIMIT_REACHED')
  })

  it('an answer with an unknown code or none is REQUEST_FAILED with the status; a bare 5xx or a dead server is unreachable', async () => {
    const s = await serve(json(418, { code: 'TEAPOT', message: 'short and stout' }), text(400, 'plain words'), text(502, 'bad gateway'))
    const c = client(s.url)
    expect(await failure(c.call('POST', '/a'))).toMatchObject({ code: 'REQUEST_FAILED', details: { status: 418, code: 'TEAPOT' } })
    const plain = await failure(c.call('POST', '/b'))
    expect(plain).toMatchObject({ code: 'REQUEST_FAILED', details: { status: 400 } })
    expect(plain.message).toContain('plain words')
    expect(await failure(c.call('POST', '/c'))).toMatchObject({ code: 'TRACKER_UNREACHABLE', details: { status: 502 } })
    expect((await failure(client(s.url, { server: 'seeder' }).call('POST', '/c'))).code).toBe('SEEDER_UNREACHABLE')
    expect((await failure(client('http://127.0.0.1:1').call('GET', '/x'))).code).toBe('TRACKER_UNREACHABLE')
  })

  it('an answer that is not JSON, breaks the contract or is too long is RESPONSE_INVALID', async () => {
    const s = await serve(text(200, 'hello'), json(200, { ok: 'yes' }), json(200, { ok: true, extra: 'x'.repeat(5000) }))
    const c = client(s.url, { maxAnswerBytes: 1024 })
    expect((await failure(c.json('GET', '/a', Answer))).code).toBe('RESPONSE_INVALID')
    const broken = await failure(c.json('GET', '/b', Answer))
    expect(broken).toMatchObject({ code: 'RESPONSE_INVALID' })
    expect(broken.message).toContain('/ok')
    expect((await failure(c.json('GET', '/c', Answer))).message).toMatch(/more than the 1024 bytes|longer than the 1024 bytes/)
  })

  it('retries a GET on an unreachable answer with backoff, up to its attempts, and no more', async () => {
    const s = await serve(text(503, 'down'), text(503, 'down'), json(200, { ok: true }))
    const c = client(s.url, { retry: { attempts: 2, minMs: 1, maxMs: 4 } })
    expect(await c.json('GET', '/a', Answer)).toEqual({ ok: true })
    expect(s.seen).toHaveLength(3)

    const t = await serve(text(503, 'down'))
    const once = client(t.url, { retry: { attempts: 1, minMs: 1, maxMs: 4 } })
    expect((await failure(once.call('GET', '/a'))).code).toBe('TRACKER_UNREACHABLE')
    expect(t.seen).toHaveLength(2)
  })

  it('does not retry a POST unless asked, nor any answer that carries a code', async () => {
    const s = await serve(text(503, 'down'))
    const c = client(s.url, { retry: { attempts: 3, minMs: 1, maxMs: 4 } })
    await failure(c.call('POST', '/a', { body: {} }))
    expect(s.seen).toHaveLength(1)
    await failure(c.call('POST', '/a', { body: {}, retriable: true }))
    expect(s.seen).toHaveLength(5)
    const t = await serve(json(404, { code: 'NOT_FOUND', message: 'gone' }))
    await failure(client(t.url, { retry: { attempts: 3, minMs: 1, maxMs: 4 } }).call('GET', '/a'))
    expect(t.seen).toHaveLength(1)
  })

  it('gives up at its time limit, and an abort is ABORTED, during a request or between retries', async () => {
    const hang: Handler = () => {}
    const s = await serve(hang)
    const timedOut = await failure(client(s.url, { timeoutMs: 100 }).call('GET', '/slow'))
    expect(timedOut.code).toBe('TRACKER_UNREACHABLE')

    const ac = new AbortController()
    const during = client(s.url).call('GET', '/slow', { signal: ac.signal })
    setImmediate(() => ac.abort())
    expect((await failure(during)).code).toBe('ABORTED')

    const t = await serve(text(503, 'down'))
    const ac2 = new AbortController()
    const c = client(t.url, { retry: { attempts: 5, minMs: 60_000, maxMs: 60_000 } })
    const between = c.call('GET', '/a', { signal: ac2.signal })
    // Abort once the first attempt has been answered and the client waits to retry.
    await expect.poll(() => t.seen.length, { timeout: 5_000 }).toBe(1)
    ac2.abort()
    expect((await failure(between)).code).toBe('ABORTED')
    expect(t.seen).toHaveLength(1)
  })
})

describe('createApiClient() over several replicas (issue 19)', () => {
  // A port nothing listens on: connection refused, so no replica can have acted on the request.
  async function deadUrl(): Promise<string> {
    const s = await serve(json(200, {}))
    const url = s.url
    const server = servers.pop()!
    await new Promise((r) => server.close(r))
    return url
  }
  const Ok = Type.Object({ ok: Type.Boolean() })

  it('starts at a random replica, moves past one that is down for any request, and stays on the one that answered', async () => {
    const dead = await deadUrl()
    const live = await serve(json(200, { ok: true }))
    const client = createApiClient({ url: `${dead},${live.url}`, token: 't', server: 'tracker', random: () => 0 })
    expect(client.urls).toEqual([dead.replace(/\/$/, ''), live.url.replace(/\/$/, '')])
    expect(await client.json('GET', '/a', Ok)).toEqual({ ok: true })
    expect(client.url).toBe(live.url.replace(/\/$/, ''))
    // A write that never reached the dead replica may go to the next one.
    expect((await client.call('POST', '/b', { body: { x: 1 } })).status).toBe(200)
    expect(live.seen.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /a', 'POST /b'])
    const other = createApiClient({ url: `${dead},${live.url}`, token: 't', server: 'tracker', random: () => 0.99 })
    expect(other.url).toBe(live.url.replace(/\/$/, ''))
  })

  it('an upload (a stream, read once) starts again with a fresh stream on the next replica when the first refuses the connection', async () => {
    const dead = await deadUrl()
    const live = await serve(json(200, { ok: true }))
    const seeder = createApiClient({ url: `${dead},${live.url}`, token: 't', server: 'seeder', random: () => 0 })
    let made = 0
    const body = (): ReadableStream => {
      made++
      return new Blob(['bundle bytes']).stream()
    }
    expect((await seeder.call('PUT', '/v1/bundles/x', { raw: { body, contentType: 'application/octet-stream', length: 12 } })).status).toBe(200)
    expect(made).toBe(2)
    expect(live.seen.map((r) => r.body)).toEqual(['bundle bytes'])
  })

  it('a write answered with a 5xx is not sent again to another replica (it may have been acted on); a read is', async () => {
    const failing = await serve(text(502, 'bad gateway'))
    const live = await serve(json(200, { ok: true }))
    const client = createApiClient({ url: `${failing.url},${live.url}`, token: 't', server: 'tracker', random: () => 0 })
    await expect(client.call('POST', '/move', { body: {} })).rejects.toMatchObject({ code: 'TRACKER_UNREACHABLE' })
    expect(live.seen).toEqual([])
    expect(await client.json('GET', '/status', Ok)).toEqual({ ok: true })
    expect(live.seen).toHaveLength(1)
  })

  it('a replica whose store is away (503 STORE_UNAVAILABLE) is passed over for reads; all down is the last error', async () => {
    const noStore = await serve(json(503, { statusCode: 503, code: 'STORE_UNAVAILABLE', message: 'PostgreSQL is away' }))
    const live = await serve(json(200, { ok: true }))
    expect(await createApiClient({ url: `${noStore.url},${live.url}`, token: 't', server: 'tracker', random: () => 0 }).json('GET', '/s', Ok)).toEqual({ ok: true })
    const [d1, d2] = [await deadUrl(), await deadUrl()]
    await expect(createApiClient({ url: `${d1},${d2}`, token: 't', server: 'tracker' }).call('GET', '/s')).rejects.toMatchObject({ code: 'TRACKER_UNREACHABLE' })
  })
})
