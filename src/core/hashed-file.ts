import { createReadStream, statSync } from 'node:fs'
import { Readable } from 'node:stream'
import { Worker } from 'node:worker_threads'
import { fromSystemError, IoError } from './errors.js'

/**
 * A file read as a stream whose sha256 is taken on another thread. Verify hashes a bundle twice
 * (every file against the manifest, and the whole bundle against its digest); on the main thread
 * the two ran one after the other. Here a worker thread reads the file, hashes each chunk and
 * hands that very chunk over (transferred, not copied), so the digest is of exactly the bytes the
 * stream gave: no second read of the file that a writer could change in between.
 *
 * The worker runs at most `ahead` chunks in front of the consumer (a credit counter shared with
 * it), so memory stays flat in the file size. Files smaller than `minBytes` are read on this
 * thread as usual (a worker costs a few tens of milliseconds to start).
 */
const hashedStreams = new WeakMap<Readable, Promise<{ sha256: string; size: number }>>()

const readers = new WeakMap<Readable, Worker>()

/** The thread reading a stream from openHashedFile (for diagnostics and tests). */
export function readerThread(stream: Readable): Worker | undefined {
  return readers.get(stream)
}

/** The digest of a stream opened by openHashedFile, if `stream` is one. */
export function hashedElsewhere(stream: Readable): Promise<{ sha256: string; size: number }> | undefined {
  return hashedStreams.get(stream)
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const { openSync, readSync, closeSync } = require('node:fs')
const { createHash } = require('node:crypto')
const { path, chunk, credits } = workerData
;(function run() {
let fd
try {
  fd = openSync(path, 'r')
  const hash = createHash('sha256')
  let size = 0
  for (;;) {
    while (Atomics.load(credits, 0) <= 0) {
      if (Atomics.load(credits, 1)) return
      Atomics.wait(credits, 0, Atomics.load(credits, 0), 1000)
    }
    if (Atomics.load(credits, 1)) return
    const buf = Buffer.allocUnsafeSlow(chunk)
    const n = readSync(fd, buf, 0, chunk, size)
    if (n === 0) break
    hash.update(n === chunk ? buf : buf.subarray(0, n))
    size += n
    Atomics.sub(credits, 0, 1)
    parentPort.postMessage({ n, data: buf.buffer }, [buf.buffer])
  }
  parentPort.postMessage({ end: true, sha256: hash.digest('hex'), size })
} catch (err) {
  parentPort.postMessage({ error: { message: err.message, code: err.code, syscall: err.syscall, errno: err.errno } })
} finally {
  if (fd !== undefined) closeSync(fd)
}
})()
`

export interface OpenHashedFileOptions {
  /** Bytes per read (default 1 MiB). */
  chunkBytes?: number
  /** Chunks the reader may run ahead of the consumer (default 8). */
  ahead?: number
  /** Below this size the file is read and hashed on this thread (default 8 MiB). */
  minBytes?: number
}

/**
 * Opens `path` for reading with its sha256 taken on the way; verifyBundle uses that digest
 * instead of hashing the stream itself (see hashedElsewhere). A missing file throws a typed
 * error at once. A small file gets a plain read stream, which its consumer hashes.
 */
export function openHashedFile(path: string, options: OpenHashedFileOptions = {}): Readable {
  const { chunkBytes = 1 << 20, ahead = 8, minBytes = 8 << 20 } = options
  let size: number
  try {
    size = statSync(path).size
  } catch (err) {
    throw fromSystemError(err, 'open bundle', path)
  }
  if (size < minBytes) return createReadStream(path, { highWaterMark: chunkBytes })

  const credits = new Int32Array(new SharedArrayBuffer(8))
  credits[0] = ahead
  const worker = new Worker(WORKER, { eval: true, workerData: { path, chunk: chunkBytes, credits } })
  let settle!: { resolve: (d: { sha256: string; size: number }) => void; reject: (e: Error) => void }
  const digest = new Promise<{ sha256: string; size: number }>((resolve, reject) => (settle = { resolve, reject }))
  digest.catch(() => {})
  /** The worker sent its digest, or this side stopped it: its exit is expected. */
  let ended = false
  const stop = (): void => {
    ended = true
    Atomics.store(credits, 1, 1)
    Atomics.notify(credits, 0)
    void worker.terminate()
  }
  const stream = new Readable({
    highWaterMark: chunkBytes,
    read() {
      Atomics.add(credits, 0, 1)
      Atomics.notify(credits, 0)
    },
    destroy(err, cb) {
      stop()
      settle.reject(err ?? new Error('stream destroyed before its end'))
      cb(err)
    },
  })
  worker.on('message', (m: { n?: number; data?: ArrayBuffer; end?: boolean; sha256?: string; size?: number; error?: NodeJS.ErrnoException }) => {
    if (m.data) stream.push(Buffer.from(m.data, 0, m.n))
    else if (m.end) {
      ended = true
      settle.resolve({ sha256: m.sha256!, size: m.size! })
      stream.push(null)
      void worker.terminate()
    } else if (m.error) {
      const err = Object.assign(new Error(m.error.message), m.error)
      stream.destroy(fromSystemError(err, 'read bundle', path))
    }
  })
  worker.on('error', (err) => stream.destroy(fromSystemError(err, 'read bundle', path)))
  // A worker gone without its last word (killed, out of memory) must not leave the reader waiting.
  worker.on('exit', (code) => {
    if (!ended) stream.destroy(new IoError(`Cannot read bundle: the reading thread exited (code ${code}) before the end of ${path}`, { details: { path } }))
  })
  hashedStreams.set(stream, digest)
  readers.set(stream, worker)
  return stream
}
