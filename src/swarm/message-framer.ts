import { PeerProtocolError } from '../core/index.js'

/**
 * Cuts a peer's byte stream at BEP 3 message boundaries: the 68-byte handshake, then
 * length-prefixed messages. Whole messages go on to the codec in one chunk; a partial one
 * waits here as a list of chunks, copied once when it completes.
 *
 * Why: bittorrent-protocol re-concatenates its whole pending buffer on every TCP read, so a
 * 16 KiB block arriving in a dozen segments (what a rate-limited link delivers) was copied a
 * dozen times; that garbage was the largest item in a fetcher's CPU profile. Knowing each
 * message's length here also lets a hostile length prefix be refused at once.
 */
export interface MessageFramer {
  /** Takes a chunk; returns the bytes of every message it completed (or undefined). */
  push(chunk: Uint8Array): Uint8Array | undefined
}

export function createMessageFramer(init: { maxMessageBytes: number; handshakeBytes?: number }): MessageFramer {
  const { maxMessageBytes, handshakeBytes = 68 } = init
  let chunks: Uint8Array[] = []
  let buffered = 0
  let handshakeLeft = handshakeBytes
  let ready = 0 // bytes at the front of the buffer that form complete messages
  let scanAt = 0 // where the next message's length prefix starts

  const byteAt = (pos: number): number => {
    for (const c of chunks) {
      if (pos < c.length) return c[pos]!
      pos -= c.length
    }
    return 0
  }
  const take = (n: number): Uint8Array => {
    const out = new Uint8Array(n)
    let at = 0
    while (at < n) {
      const c = chunks[0]!
      const k = Math.min(c.length, n - at)
      out.set(c.subarray(0, k), at)
      at += k
      if (k === c.length) chunks.shift()
      else chunks[0] = c.subarray(k)
    }
    buffered -= n
    return out
  }

  return {
    push(chunk) {
      if (chunk.length === 0) return undefined
      if (handshakeLeft > 0) {
        // Until the handshake is through, pass bytes on untouched (it has its own framing).
        if (chunk.length <= handshakeLeft) {
          handshakeLeft -= chunk.length
          return chunk
        }
        const head = chunk.subarray(0, handshakeLeft)
        const rest = chunk.subarray(handshakeLeft)
        handshakeLeft = 0
        const more = this.push(rest)
        if (!more) return head
        const out = new Uint8Array(head.length + more.length)
        out.set(head)
        out.set(more, head.length)
        return out
      }
      chunks.push(chunk)
      buffered += chunk.length
      while (buffered - scanAt >= 4) {
        const len = ((byteAt(scanAt) << 24) | (byteAt(scanAt + 1) << 16) | (byteAt(scanAt + 2) << 8) | byteAt(scanAt + 3)) >>> 0
        if (len > maxMessageBytes) throw new PeerProtocolError(`A peer sent a message of ${len} bytes (the limit is ${maxMessageBytes})`)
        if (buffered - scanAt < 4 + len) break
        scanAt += 4 + len
        ready = scanAt
      }
      if (ready === 0) return undefined
      const out = chunks.length === 1 && chunks[0]!.length === ready ? chunks.splice(0, 1)[0]! : take(ready)
      if (out === chunk) buffered -= ready
      scanAt -= ready
      ready = 0
      if (buffered === 0) chunks = []
      return out
    },
  }
}
