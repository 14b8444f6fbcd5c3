import { PeerProtocolError } from '../core/index.js'

/**
 * Cuts a peer's byte stream at BEP 3 message boundaries: the 68-byte handshake, then
 * length-prefixed messages. Whole messages go on to the codec (`messages`), in stream order; a
 * partial one waits here as a list of chunks, copied once when it completes.
 *
 * A piece message whose block has a place to go (`blocks.target`: a block this side asked for)
 * does not go to the codec at all: its block is copied from the socket's chunks straight into
 * that place as they arrive, and `blocks.arrived` is called when it is full. So a block costs one
 * copy and no allocation, not a message buffer, a codec parse and a second copy.
 *
 * Why: bittorrent-protocol re-concatenates its whole pending buffer on every TCP read, so a
 * 16 KiB block arriving in a dozen segments (what a rate-limited link delivers) was copied a
 * dozen times; that garbage was the largest item in a fetcher's CPU profile, and on loopback the
 * message copies and their garbage collection were still half a fetcher's CPU (issue #18).
 * Knowing each message's length here also lets a hostile length prefix be refused at once.
 */
export interface MessageFramer {
  /** Takes a chunk (kept until its messages complete: the caller must not reuse it unless `transient`). */
  push(chunk: Uint8Array): void
}

/** Where the blocks of piece messages go, when they are ones this side asked for. */
export interface BlockSink {
  /** The bytes to fill with the block of piece `index` at `offset`, or undefined to pass the message to the codec. */
  target(index: number, offset: number, length: number): Uint8Array | undefined
  /** `block` (the target) is full. */
  arrived(index: number, offset: number, block: Uint8Array): void
}

export interface MessageFramerInit {
  maxMessageBytes: number
  handshakeBytes?: number
  /** Whole messages (one or more, back to back; the handshake bytes as they come), in stream order. */
  messages: (bytes: Uint8Array) => void
  blocks?: BlockSink
  /**
   * Chunks live only for the push (a socket reading into one buffer, reused): what is handed on
   * or kept is copied first (a block streamed to its target needs no more than that copy).
   */
  transient?: boolean
}

/** A piece message's length prefix, id, index and offset. */
const PIECE_HEADER = 13

export function createMessageFramer(init: MessageFramerInit): MessageFramer {
  const { maxMessageBytes, handshakeBytes = 68, blocks, transient = false } = init
  const hand = (bytes: Uint8Array): void => init.messages(transient ? new Uint8Array(bytes) : bytes)
  let chunks: Uint8Array[] = []
  let buffered = 0
  let handshakeLeft = handshakeBytes
  let ready = 0 // bytes at the front of the buffer that form complete messages
  let scanAt = 0 // where the next message's length prefix starts
  let askedAt = -1 // the piece message at this position was offered to blocks.target and refused
  let piece: { index: number; offset: number; target: Uint8Array; filled: number } | undefined

  const byteAt = (pos: number): number => {
    for (const c of chunks) {
      if (pos < c.length) return c[pos]!
      pos -= c.length
    }
    return 0
  }
  const u32At = (pos: number): number => ((byteAt(pos) << 24) | (byteAt(pos + 1) << 16) | (byteAt(pos + 2) << 8) | byteAt(pos + 3)) >>> 0
  /** Moves the first n buffered bytes into `out` at `at` (or drops them without `out`). */
  const take = (n: number, out?: Uint8Array, at = 0): void => {
    let left = n
    while (left > 0) {
      const c = chunks[0]!
      const k = Math.min(c.length, left)
      out?.set(k === c.length ? c : c.subarray(0, k), at)
      at += k
      left -= k
      if (k === c.length) chunks.shift()
      else chunks[0] = c.subarray(k)
    }
    buffered -= n
  }
  /** Hands on the complete messages at the front. */
  const flush = (): void => {
    if (ready === 0) return
    let out: Uint8Array
    if (chunks[0]!.length === ready && !transient) {
      out = chunks.shift()!
      buffered -= ready
    } else {
      out = new Uint8Array(ready)
      take(ready, out)
    }
    scanAt -= ready
    if (askedAt >= 0) askedAt -= ready
    ready = 0
    if (buffered === 0) chunks = []
    init.messages(out)
  }
  /** Copies what is kept of a transient chunk (only the one being pushed can be). */
  const keep = (chunk: Uint8Array): void => {
    if (!transient) return
    for (let k = 0; k < chunks.length; k++) if (chunks[k]!.buffer === chunk.buffer) chunks[k] = new Uint8Array(chunks[k]!)
  }
  /** Copies what a chunk holds of the block under way; returns the rest of the chunk. */
  const fill = (chunk: Uint8Array): Uint8Array => {
    const p = piece!
    const k = Math.min(p.target.length - p.filled, chunk.length)
    p.target.set(k === chunk.length ? chunk : chunk.subarray(0, k), p.filled)
    p.filled += k
    if (p.filled === p.target.length) {
      piece = undefined
      blocks!.arrived(p.index, p.offset, p.target)
    }
    return chunk.subarray(k)
  }
  /** At a piece message's start (scanAt, its header buffered): streams its block if it has a place. */
  const stream = (len: number): boolean => {
    if (askedAt === scanAt) return false
    flush() // every message before it reaches the codec first: a choke may withdraw the request
    const index = u32At(5)
    const offset = u32At(9)
    const target = blocks!.target(index, offset, len - 9)
    if (!target || target.length !== len - 9) {
      askedAt = 0
      return false
    }
    take(PIECE_HEADER)
    const k = Math.min(buffered, target.length)
    take(k, target)
    piece = { index, offset, target, filled: k }
    if (buffered === 0) chunks = []
    if (k === target.length) fill(new Uint8Array(0))
    return true
  }

  const push = (chunk: Uint8Array): void => {
    if (chunk.length === 0) return
    if (handshakeLeft > 0) {
      // Until the handshake is through, pass bytes on untouched (it has its own framing).
      const k = Math.min(handshakeLeft, chunk.length)
      handshakeLeft -= k
      hand(k === chunk.length ? chunk : chunk.subarray(0, k))
      return push(chunk.subarray(k))
    }
    if (piece) {
      chunk = fill(chunk)
      if (chunk.length === 0) return
    }
    chunks.push(chunk)
    buffered += chunk.length
    while (buffered - scanAt >= 4) {
      const len = u32At(scanAt)
      if (len > maxMessageBytes) throw new PeerProtocolError(`A peer sent a message of ${len} bytes (the limit is ${maxMessageBytes})`)
      if (blocks && len > 9) {
        // It cannot be complete before its first 13 bytes are here; if it is a piece message,
        // its block may go straight to its place.
        if (buffered - scanAt < PIECE_HEADER) break
        if (byteAt(scanAt + 4) === 7 && stream(len)) {
          if (piece) return // the chunk is used up; the block goes on with the next one
          continue
        }
      }
      if (buffered - scanAt < 4 + len) break
      scanAt += 4 + len
      ready = scanAt
    }
    flush()
    keep(chunk)
  }
  return { push }
}
