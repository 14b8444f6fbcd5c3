import { createServer } from 'node:http'
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { guardConnections, HEADERS_TIMEOUT_MS, parseTokens } from '../../src/core/index.js'
import { buildTracker, createTrackerStore } from '../../src/tracker/index.js'
import { TOKENS_FILE, waitFor } from '../helpers/fleet.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const closers: Array<() => unknown> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

describe('slow clients cannot exhaust a server (issue 12, medium 8)', () => {
  it('guardConnections(): one address gets its share, slowloris sockets go at the headers timeout, an honest client is served throughout', async () => {
    const server = createServer({ headersTimeout: 1000, requestTimeout: 2000, connectionsCheckingInterval: 100 }, (_req, res) => res.end('ok'))
    const guard = guardConnections(server, { maxConnections: 256, maxPerAddress: 20, fairShare: 4 })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    closers.push(() => new Promise((r) => server.close(r)))
    closers.push(() => server.closeAllConnections())
    const port = (server.address() as { port: number }).port
    const sockets: Socket[] = []
    closers.push(() => sockets.forEach((s) => s.destroy()))
    const closed = new Set<Socket>()
    // 200 sockets from 20 addresses, sending a request line and then nothing.
    for (let i = 0; i < 200; i++) {
      const s = connect({ port, host: '127.0.0.1', localAddress: `127.0.0.${2 + (i % 20)}` })
      s.on('error', () => {})
      s.once('connect', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n'))
      s.resume() // reads what it is sent (a 408), so it sees the close
      s.once('close', () => closed.add(s))
      sockets.push(s)
    }
    await waitFor('the excess to be refused', async () => guard.refused + guard.open >= 200, 5000)
    // Past an eighth of the total (32), no address gets more than its fair share (4) ...
    expect(guard.open).toBeLessThanOrEqual(32 + 20 * 4)
    expect(guard.refused).toBeGreaterThanOrEqual(200 - 32 - 20 * 4)
    // ... an honest client from another address is served at once ...
    const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) })
    expect(await r.text()).toBe('ok')
    // ... and every slow socket is closed by the headers timeout.
    await waitFor('the slow sockets to be closed', async () => {
      const open = sockets.filter((s) => !closed.has(s))
      if (open.length === 0) return true
      throw new Error(`${open.length} open, ${open.filter((s) => s.connecting).length} connecting, guard open ${guard.open}`)
    }, 10_000)
    expect(guard.open).toBeLessThanOrEqual(1) // the honest client's kept-alive connection
  })

  it('the tracker sets a headers timeout and bounds connections per address', async () => {
    const store = createTrackerStore({ dataDir: await tempDir() })
    await store.start()
    const app = await buildTracker({ store, tokens: parseTokens(TOKENS_FILE), connections: { maxPerAddress: 5 } })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    closers.push(async () => {
      await app.close()
      await store.stop()
    })
    expect(app.server.headersTimeout).toBe(HEADERS_TIMEOUT_MS)
    const port = Number(new URL(url).port)
    const sockets: Socket[] = []
    closers.push(() => sockets.forEach((s) => s.destroy()))
    const closed = new Set<Socket>()
    for (let i = 0; i < 30; i++) {
      const s = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.7' })
      s.on('error', () => {})
      s.once('close', () => closed.add(s))
      sockets.push(s)
    }
    await waitFor('25 refused', async () => closed.size >= 25, 5000)
    expect(closed.size).toBe(25)
    expect((await fetch(`${url}/v1/health`)).status).toBe(200)
  })
})
