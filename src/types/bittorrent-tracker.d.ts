// The subset of bittorrent-tracker that Shoal uses (the package ships no types): its Client is a
// third-party peer in the UDP tracker test.
declare module 'bittorrent-tracker' {
  import { EventEmitter } from 'node:events'

  export class Client extends EventEmitter {
    constructor(opts: { infoHash: string | Uint8Array; peerId: string | Uint8Array; announce: string[]; port: number })
    start(opts?: Record<string, unknown>): void
    stop(opts?: Record<string, unknown>): void
    destroy(cb?: () => void): void
  }
  const _default: { Client: typeof Client }
  export default _default
}
