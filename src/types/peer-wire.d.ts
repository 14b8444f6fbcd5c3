// Declarations for bittorrent-protocol (the BEP 3 message codec Shoal's swarm engine drives) and
// bencode. Only what Shoal uses.
declare module 'bittorrent-protocol' {
  import { Duplex } from 'node:stream'
  interface PeerPieces {
    get(index: number): boolean
  }
  interface PendingRequest {
    piece: number
    offset: number
    length: number
  }
  export default class Wire extends Duplex {
    constructor(type?: string, peEnabled?: number)
    peerId: string | null
    peerIdBuffer: Uint8Array | null
    amChoking: boolean
    amInterested: boolean
    peerChoking: boolean
    peerInterested: boolean
    peerPieces: PeerPieces
    requests: PendingRequest[]
    peerRequests: PendingRequest[]
    uploaded: number
    downloaded: number
    handshake(infoHash: string | Uint8Array, peerId: string | Uint8Array, extensions?: Record<string, boolean>): void
    choke(): void
    unchoke(): void
    interested(): void
    uninterested(): void
    have(index: number): void
    bitfield(bitfield: Uint8Array): void
    request(index: number, offset: number, length: number, cb: (err: Error | null, block: Uint8Array | null) => void): void
    cancel(index: number, offset: number, length: number): void
    setKeepAlive(enable: boolean): void
    setTimeout(ms: number, unref?: boolean): void
    destroy(err?: Error): this
    on(event: 'handshake', listener: (infoHash: string, peerId: string, extensions: Record<string, boolean>) => void): this
    on(event: 'bitfield', listener: (bitfield: PeerPieces) => void): this
    on(event: 'have', listener: (index: number) => void): this
    on(event: 'request', listener: (index: number, offset: number, length: number, respond: (err: Error | null, block?: Uint8Array) => void) => void): this
    on(event: 'choke' | 'unchoke' | 'interested' | 'uninterested' | 'close' | 'timeout' | 'finish', listener: () => void): this
    on(event: 'error', listener: (err: Error) => void): this
    on(event: string, listener: (...args: never[]) => void): this
  }
}

declare module 'bencode' {
  const bencode: {
    encode(value: unknown): Uint8Array
    decode(data: Uint8Array, encoding?: string): unknown
  }
  export default bencode
}
