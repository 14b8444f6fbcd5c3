import type { ServerResponse } from 'node:http'

export interface EventStreamInit {
  /** A reader that has not taken a written event within this time is dropped (default 30 s). */
  stallMs?: number
  /** Comment line sent when nothing else was, so proxies keep the stream open (default 15 s). */
  heartbeatMs?: number
  /** More response headers (e.g. CORS). */
  headers?: Record<string, string>
}

export interface EventStream {
  /** Sends an event, or keeps it as the one pending event while the reader is behind. */
  send(event: string, data: string): void
  /** Ends the stream (idempotent). */
  close(): void
  /** Called once, however the stream ends (client gone, stalled, closed). */
  onEnd(fn: () => void): void
}

/**
 * A server-sent event stream (text/event-stream) with backpressure: at most one event is ever
 * queued per reader. While a write has not drained, a newer event replaces the pending one (every
 * event here is a whole status, so only the latest matters), and a reader that takes nothing for
 * `stallMs` is disconnected. Memory per reader is therefore one event, however slowly, or never,
 * it reads: 300 viewers that never read a large status once took a tracker to a heap crash.
 */
export function openEventStream(res: ServerResponse, init: EventStreamInit = {}): EventStream {
  const { stallMs = 30_000, heartbeatMs = 15_000 } = init
  res.writeHead(200, { ...init.headers, 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' })
  let pending: string | undefined
  let waiting = false
  let stall: NodeJS.Timeout | undefined
  let ended = false
  const endFns: (() => void)[] = []

  const end = (): void => {
    if (ended) return
    ended = true
    clearTimeout(stall)
    clearInterval(heartbeat)
    res.off('drain', onDrain)
    for (const fn of endFns.splice(0)) fn()
  }
  const write = (text: string): void => {
    if (ended) return
    if (waiting) {
      pending = text
      return
    }
    if (!res.write(text)) {
      waiting = true
      stall = setTimeout(() => {
        // The reader took nothing for stallMs: free its buffers now.
        res.destroy()
        end()
      }, stallMs)
    }
  }
  const onDrain = (): void => {
    waiting = false
    clearTimeout(stall)
    const next = pending
    pending = undefined
    if (next !== undefined) write(next)
  }
  res.on('drain', onDrain)
  res.once('close', end)
  const heartbeat = setInterval(() => {
    if (!waiting) write(': keep-alive\n\n')
  }, heartbeatMs)
  heartbeat.unref()

  return {
    send: (event, data) => write(`event: ${event}\ndata: ${data}\n\n`),
    close() {
      if (ended) return
      res.end()
      end()
    },
    onEnd(fn) {
      if (ended) fn()
      else endFns.push(fn)
    },
  }
}
