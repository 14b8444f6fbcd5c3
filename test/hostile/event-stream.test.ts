import { createServer, type ServerResponse } from 'node:http'
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { openEventStream, type EventStream } from '../../src/tracker/event-stream.js'
import { waitFor } from '../helpers/fleet.js'

const closers: Array<() => unknown> = []
afterEach(() => {
  for (const c of closers.splice(0).reverse()) c()
})

/** An HTTP server whose one route opens an event stream; resolves with the server's side of each. */
async function serve(stallMs: number): Promise<{ port: number; next: () => Promise<{ stream: EventStream; res: ServerResponse }> }> {
  const waiting: Array<(v: { stream: EventStream; res: ServerResponse }) => void> = []
  const server = createServer((_req, res) => waiting.shift()?.({ stream: openEventStream(res, { stallMs, heartbeatMs: 60_000 }), res }))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  closers.push(() => server.close())
  closers.push(() => server.closeAllConnections())
  return {
    port: (server.address() as { port: number }).port,
    next: () => new Promise((r) => waiting.push(r)),
  }
}

describe('openEventStream() (issue 12, high 2)', () => {
  it('a reader that never reads holds at most one pending event, then is dropped once it has taken nothing for stallMs', async () => {
    const { port, next } = await serve(1500)
    const accepted = next()
    const reader = connect({ port, host: '127.0.0.1' })
    closers.push(() => reader.destroy())
    reader.on('error', () => {})
    reader.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    reader.pause() // never reads: the kernel buffers fill, then the server's
    const { stream, res } = await accepted
    let ended = false
    stream.onEnd(() => (ended = true))
    const event = 'x'.repeat(256 << 10)
    let maxQueued = 0
    // Far more than any kernel buffer holds: without backpressure this would all queue in memory.
    for (let i = 0; i < 400 && !ended; i++) {
      stream.send('status', `${i}:${event}`)
      maxQueued = Math.max(maxQueued, res.writableLength)
      await new Promise((r) => setImmediate(r))
    }
    expect(maxQueued).toBeLessThanOrEqual(2 * (event.length + 64))
    await waitFor('the stalled reader to be dropped', async () => ended, 10_000)
    expect(res.destroyed).toBe(true)
  })

  it('a reader that reads gets the latest event after a burst (older pending ones are replaced), in order', async () => {
    const { port, next } = await serve(10_000)
    const accepted = next()
    const reader = connect({ port, host: '127.0.0.1' })
    closers.push(() => reader.destroy())
    let text = ''
    reader.on('data', (c) => (text += c))
    reader.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    const { stream } = await accepted
    const big = 'y'.repeat(1 << 20)
    for (let i = 0; i < 50; i++) stream.send('status', `${i}:${big}`)
    await waitFor('the last event', async () => text.includes('data: 49:'), 10_000)
    const seen = [...text.matchAll(/data: (\d+):/g)].map((m) => Number(m[1]))
    expect(seen.length).toBeLessThan(50) // replaced while the reader was behind
    expect(seen).toEqual([...seen].sort((a, b) => a - b))
    expect(seen.at(-1)).toBe(49)
    stream.close()
  })
})
