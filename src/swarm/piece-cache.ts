import { holdPieceBuffer, releasePieceBuffer, takePieceBuffer } from './piece-buffers.js'

/**
 * Stored pieces kept in memory for serving, least recently used out first, within `maxBytes`
 * (always at least one piece). In a rollout peers ask for the pieces a host has just announced,
 * block by block; one read per piece instead of one per block took a fetcher's upload CPU from a
 * third of its time to noise.
 *
 * The buffers are piece buffers (see piece-buffers.ts): the cache holds each while it keeps it,
 * and `get` holds it once more for the caller, who lets go when done with it (for a block sent,
 * once the socket has written it).
 */
export interface PieceCache {
  /** The piece's buffer (held for the caller) and its bytes: from memory, or read (once, however many blocks ask at the same time). */
  get(index: number): { buf: Uint8Array; data: Promise<Uint8Array> }
  /** Keeps bytes just stored (a piece a host has just verified is the next one asked for). */
  put(index: number, data: Uint8Array): void
  clear(): void
}

export function createPieceCache(init: { maxBytes: number; pieceLength: number; sizeOf: (index: number) => number; read: (index: number, into: Buffer) => Promise<Uint8Array> }): PieceCache {
  const { maxBytes, sizeOf, read } = init
  const cache = new Map<number, { buf: Uint8Array; data: Promise<Uint8Array> }>()
  let bytes = 0
  const drop = (i: number, entry?: { buf: Uint8Array }): void => {
    const e = cache.get(i)
    if (!e || (entry && e !== entry)) return
    cache.delete(i)
    bytes -= sizeOf(i)
    releasePieceBuffer(e.buf)
  }
  const remember = (i: number, entry: { buf: Uint8Array; data: Promise<Uint8Array> }): void => {
    drop(i)
    cache.set(i, entry)
    bytes += sizeOf(i)
    for (const k of cache.keys()) {
      if (bytes <= maxBytes || cache.size <= 1) break
      drop(k)
    }
  }
  return {
    get(i) {
      let entry = cache.get(i)
      if (entry) {
        cache.delete(i) // refresh its place in the LRU order
        cache.set(i, entry)
      } else {
        const buf = takePieceBuffer(sizeOf(i), init.pieceLength)
        const e = { buf, data: read(i, buf) }
        e.data.catch(() => drop(i, e))
        remember(i, e)
        entry = e
      }
      holdPieceBuffer(entry.buf)
      return entry
    },
    put(i, data) {
      holdPieceBuffer(data)
      remember(i, { buf: data, data: Promise.resolve(data) })
    },
    clear() {
      for (const e of cache.values()) releasePieceBuffer(e.buf)
      cache.clear()
      bytes = 0
    },
  }
}
