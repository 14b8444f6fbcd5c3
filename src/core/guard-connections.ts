import type { Server, Socket } from 'node:net'

export interface ConnectionLimits {
  /** Open connections the server keeps at most; more are closed at once (default 16,384). */
  maxConnections?: number
  /**
   * Open connections one remote address may hold (default 256; 0 = no per-address bound, for a
   * server behind a proxy or load balancer whose address every client shares).
   */
  maxPerAddress?: number
  /**
   * Once an eighth of maxConnections are open, an address holding this many already gets no more
   * (default 32), so slow clients from many addresses cannot crowd out an honest one.
   */
  fairShare?: number
}

/** Defaults for every Shoal HTTP server: a client has this long to send its request headers. */
export const HEADERS_TIMEOUT_MS = 10_000
/** How often Node checks for requests past their headers or request timeout. */
export const CONNECTIONS_CHECK_MS = 1_000

/**
 * Bounds the sockets a server holds, so slow or hostile clients cannot exhaust its file
 * descriptors: a cap in total and a cap per remote address, both enforced when a connection is
 * accepted (the socket is closed at once, so it never costs more than a moment). Together with
 * the headers timeout (HEADERS_TIMEOUT_MS) a client sending its headers byte by byte (slowloris)
 * holds a slot for seconds, and many such clients hold at most their address's share; past half
 * the total, an address already holding its fair share is refused, so a new client from an
 * address with few connections (an honest host) still gets in.
 */
export function guardConnections(server: Server, limits: ConnectionLimits = {}): { readonly open: number; readonly refused: number } {
  const { maxConnections = 16_384, maxPerAddress = 256, fairShare = 32 } = limits
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new RangeError(`maxConnections must be a positive integer (current value is ${maxConnections})`)
  if (!Number.isInteger(maxPerAddress) || maxPerAddress < 0) throw new RangeError(`maxPerAddress must be an integer >= 0 (current value is ${maxPerAddress})`)
  const perAddress = new Map<string, number>()
  let open = 0
  let refused = 0
  // The server's own 'connection' listeners (HTTP's parser set-up, TLS's handshake) run only for
  // admitted sockets: a refused one costs an accept and a close, not a parser and its buffers,
  // which under a flood of reconnecting clients is most of the tracker's memory.
  const inner = server.listeners('connection') as ((socket: Socket) => void)[]
  server.removeAllListeners('connection')
  server.on('connection', (socket: Socket) => {
    const addr = socket.remoteAddress ?? ''
    const n = perAddress.get(addr) ?? 0
    const crowded = open >= maxConnections / 8 && n >= fairShare
    if (open >= maxConnections || (maxPerAddress > 0 && n >= maxPerAddress) || (maxPerAddress > 0 && crowded)) {
      refused++
      socket.destroy()
      return
    }
    for (const l of inner) l.call(server, socket)
    open++
    perAddress.set(addr, n + 1)
    socket.once('close', () => {
      open--
      const left = (perAddress.get(addr) ?? 1) - 1
      if (left <= 0) perAddress.delete(addr)
      else perAddress.set(addr, left)
    })
  })
  return {
    get open() {
      return open
    },
    get refused() {
      return refused
    },
  }
}
