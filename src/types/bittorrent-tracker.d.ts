// The subset of bittorrent-tracker that Shoal uses (the package ships no types): its Client is a
// third-party peer in the UDP tracker test.
declare module 'bittorrent-tracker' {
  import { EventEmitter } from 'node:events'
  import type { IncomingMessage, ServerResponse } from 'node:http'

  export interface ServerOptions {
    http?: boolean
    udp?: boolean
    ws?: boolean
    stats?: boolean
    trustProxy?: boolean
    interval?: number
    filter?: (infoHash: string, params: unknown, cb: (err: Error | null) => void) => void
  }

  export class Server extends EventEmitter {
    constructor(opts?: ServerOptions)
    onHttpRequest(req: IncomingMessage, res: ServerResponse, opts?: { action?: 'announce' | 'scrape'; trustProxy?: boolean }): void
    listen(port: number, hostname?: string, onlistening?: () => void): void
    close(cb?: () => void): void
    torrents: Record<string, { complete: number; incomplete: number; peers: unknown }>
  }
  export class Client extends EventEmitter {
    constructor(opts: { infoHash: string | Uint8Array; peerId: string | Uint8Array; announce: string[]; port: number })
    start(opts?: Record<string, unknown>): void
    stop(opts?: Record<string, unknown>): void
    destroy(cb?: () => void): void
  }
  const _default: { Server: typeof Server; Client: typeof Client }
  export default _default
}
