/**
 * Piece-sized buffers, reused once nothing holds them any more.
 *
 * Why: a fresh 1 MiB buffer per piece (one per piece downloaded, one per piece read for serving)
 * was the last large allocation per byte on the peer wire, and V8 answers that much external
 * memory with full garbage collections (issue #18: reusing them took a loopback download from
 * 7.1-8.2 to 4.3-5.2 CPU-s per GiB).
 *
 * A buffer is reused only when every holder has let go, counted per buffer: the download filling
 * it, a file write of it, the serving cache, and each block of it handed to a socket (let go when
 * the socket has written it). A holder that never lets go (a request the codec dropped, a link
 * destroyed with blocks queued) only means the buffer is not reused: it is collected as any
 * other. So the one rule is: never let go of what you did not hold, and never before you are done.
 */

/** Free buffers of each piece length are kept up to this many bytes (at least one buffer). */
const KEEP_BYTES = 16 << 20
/** Free buffers not taken again within this long are let go (a host between rollouts holds none). */
const IDLE_MS = 10_000

const holds = new WeakMap<ArrayBufferLike, number>()
const free = new Map<number, Buffer[]>()
let lastTake = 0
let idleTimer: NodeJS.Timeout | undefined
const dropWhenIdle = (): void => {
  idleTimer = undefined
  if (performance.now() - lastTake >= IDLE_MS) free.clear()
  else armIdle()
}
const armIdle = (): void => {
  idleTimer ??= setTimeout(dropWhenIdle, IDLE_MS).unref()
}

/** A buffer of `size` bytes for a piece of a torrent with `pieceLength`, held once by the caller. */
export function takePieceBuffer(size: number, pieceLength: number): Buffer {
  lastTake = performance.now()
  const list = free.get(pieceLength)
  const whole = list?.pop() ?? Buffer.allocUnsafeSlow(pieceLength)
  holds.set(whole.buffer, 1)
  return size === pieceLength ? whole : whole.subarray(0, size)
}

/** One more holder of the piece buffer `buf` lies in (no-op for other buffers). */
export function holdPieceBuffer(buf: Uint8Array): void {
  const n = holds.get(buf.buffer)
  if (n !== undefined) holds.set(buf.buffer, n + 1)
}

/** A holder is done with `buf`; the last one returns it for reuse (no-op for other buffers). */
export function releasePieceBuffer(buf: Uint8Array): void {
  const n = holds.get(buf.buffer)
  if (n === undefined) return
  if (n > 1) return void holds.set(buf.buffer, n - 1)
  holds.delete(buf.buffer)
  const length = buf.buffer.byteLength
  let list = free.get(length)
  if (!list) free.set(length, (list = []))
  if (list.length < Math.max(1, Math.floor(KEEP_BYTES / length))) {
    list.push(Buffer.from(buf.buffer as ArrayBuffer, 0, length))
    armIdle()
  }
}

/** Whether `buf` lies in a piece buffer still held (what a socket write must let go of). */
export function isHeldPieceBuffer(buf: Uint8Array): boolean {
  return holds.has(buf.buffer)
}

/** Free buffers kept, for tests. */
export function freePieceBuffers(pieceLength: number): number {
  return free.get(pieceLength)?.length ?? 0
}
