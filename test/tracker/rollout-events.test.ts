import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { parseTokens } from '../../src/core/index.js'
import { buildTracker, createTrackerStore } from '../../src/tracker/index.js'
import { hostToken, TOKENS, TOKENS_FILE } from '../helpers/fleet.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const stops: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s()
})

describe('GET /v1/rollouts/:release/:channel/events', () => {
  it('streams the status at once, then again when a host reports; refuses without a token; ends when the tracker closes', async () => {
    const store = createTrackerStore({ dataDir: join(await tempDir(), 't') })
    await store.start()
    const app = await buildTracker({ store, tokens: parseTokens(TOKENS_FILE), statusCacheMs: 50 })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    let closed = false
    stops.push(async () => {
      if (!closed) await app.close()
      await store.stop()
    })
    const call = (method: string, path: string, token: string, body?: unknown) =>
      fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
    const digest = `sha256:${'c'.repeat(64)}`
    await call('PUT', `/v1/bundles/${digest}`, TOKENS.seeder, { size: 10, infoHash: 'a'.repeat(40), pieceLength: 65536, webSeeds: [], seeder: 'o' })
    await call('PUT', '/v1/releases/app/versions/1.0.0', TOKENS.publisher, { digest })
    await call('PUT', '/v1/hosts/h1', hostToken('h1'), { follows: ['app@prod'] })
    await call('PUT', '/v1/channels/app/prod', TOKENS.publisher, { version: '1.0.0' })

    expect((await fetch(`${url}/v1/rollouts/app/prod/events`)).status).toBe(401)
    const res = await fetch(`${url}/v1/rollouts/app/prod/events`, { headers: { authorization: `Bearer ${TOKENS.viewer}` } })
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let buffer = ''
    const nextStatus = async (): Promise<{ byState: Record<string, number> }> => {
      for (;;) {
        const at = buffer.indexOf('\n\n')
        if (at >= 0) {
          const ev = buffer.slice(0, at)
          buffer = buffer.slice(at + 2)
          const data = ev.split('\n').find((l) => l.startsWith('data: '))
          if (data) return JSON.parse(data.slice(6))
          continue
        }
        const { value, done } = await reader.read()
        if (done) throw new Error('stream ended')
        buffer += decoder.decode(value, { stream: true })
      }
    }
    expect((await nextStatus()).byState.pending).toBe(1)
    await call('POST', '/v1/hosts/h1/reports', hostToken('h1'), { digest, state: 'running', bytesDone: 10 })
    expect((await nextStatus()).byState.running).toBe(1)
    closed = true
    await app.close()
    await expect(reader.read()).resolves.toMatchObject({ done: true })
  })
})
