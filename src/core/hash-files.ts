import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { AbortedError, fromSystemError, IoError } from './errors.js'
import { sourceChanged } from './read-source-file.js'

/**
 * The sha256 of many files, on worker threads: pack's first pass (every file's hash for the
 * manifest) ran on the main thread, reading and hashing one file after another, while the
 * machine's other cores sat idle. Each worker reads its files with synchronous calls into one
 * reused buffer (nothing is handed on, so nothing is allocated per file) and answers a batch at a
 * time; the main thread only hands out batches.
 *
 * The checks are readSourceFile's: one byte more than the listed size is asked for, so a file
 * that grew or shrank since it was listed fails with SOURCE_CHANGED.
 */
export interface FileToHash {
  absPath: string
  /** The path in the bundle, for errors. */
  path: string
  size: number
}

export interface HashFilesOptions {
  signal?: AbortSignal
  /** Called with the bytes of each batch once hashed. */
  onBytes?: (n: number) => void
  /** Worker threads (default: the machine's cores, at most 4). */
  threads?: number
  /** Called with the threads once started (diagnostics, tests). */
  onThreads?: (threads: readonly Worker[]) => void
}

const WORKER = `
const { parentPort } = require('node:worker_threads')
const { openSync, readSync, closeSync } = require('node:fs')
const { createHash } = require('node:crypto')
const buf = Buffer.allocUnsafe((1 << 20) + 1)
function hashOne(f) {
  let fd
  try {
    fd = openSync(f.absPath, 'r')
  } catch (err) {
    return { error: { action: 'open file', message: err.message, code: err.code } }
  }
  try {
    const hash = createHash('sha256')
    let position = 0
    for (;;) {
      const want = Math.min(f.size - position, 1 << 20)
      const len = position + want === f.size ? want + 1 : want
      let filled = 0
      while (filled < len) {
        const n = readSync(fd, buf, filled, len - filled, position + filled)
        if (n === 0) break
        filled += n
      }
      if (position + filled > f.size) return { changed: 'it grew' }
      if (filled < want) return { changed: 'it ends at ' + (position + filled) }
      hash.update(buf.subarray(0, want))
      position += want
      if (position === f.size) return { sha256: hash.digest('hex') }
    }
  } catch (err) {
    return { error: { action: 'read file', message: err.message, code: err.code } }
  } finally {
    closeSync(fd)
  }
}
parentPort.on('message', (batch) => parentPort.postMessage(batch.map(hashOne)))
`

type Answer = { sha256: string } | { changed: string } | { error: { action: string; message: string; code?: string } }

/** Files per batch and bytes per batch, whichever comes first. */
const BATCH_FILES = 64
const BATCH_BYTES = 16 << 20

export async function hashFiles(files: FileToHash[], options: HashFilesOptions = {}): Promise<string[]> {
  const { signal, onBytes } = options
  signal?.throwIfAborted()
  const threads = Math.max(1, Math.min(options.threads ?? Math.min(4, availableParallelism()), Math.ceil(files.length / BATCH_FILES)))
  const out: string[] = new Array(files.length)
  if (files.length === 0) return out
  const workers = Array.from({ length: threads }, () => new Worker(WORKER, { eval: true }))
  options.onThreads?.(workers)
  let next = 0
  const nextBatch = (): [number, number] => {
    const start = next
    let bytes = 0
    while (next < files.length && next - start < BATCH_FILES && bytes < BATCH_BYTES) bytes += files[next++]!.size
    return [start, next]
  }
  try {
    await new Promise<void>((resolve, reject) => {
      let running = 0
      /** Answered (every hash in) or failed: nothing after that counts. */
      let settled = false
      const fail = (err: unknown): void => {
        settled = true
        reject(err)
      }
      const onAbort = (): void => fail(new AbortedError('Cannot hash files: it was aborted'))
      signal?.addEventListener('abort', onAbort, { once: true })
      const give = (w: Worker): void => {
        const [start, end] = nextBatch()
        if (start === end) {
          if (running === 0 && !settled) {
            settled = true
            signal?.removeEventListener('abort', onAbort)
            resolve()
          }
          return
        }
        running++
        w.once('message', (answers: Answer[]) => {
          running--
          if (settled) return
          let bytes = 0
          for (const [k, a] of answers.entries()) {
            const f = files[start + k]!
            if ('sha256' in a) out[start + k] = a.sha256
            else if ('changed' in a) return fail(sourceChanged(f.path, f.size, a.changed))
            else return fail(fromSystemError(Object.assign(new Error(a.error.message), { code: a.error.code }), a.error.action, f.absPath))
            bytes += f.size
          }
          onBytes?.(bytes)
          give(w)
        })
        w.postMessage(files.slice(start, end).map((f) => ({ absPath: f.absPath, size: f.size })))
      }
      for (const w of workers) {
        w.once('error', (err) => fail(fromSystemError(err, 'hash files')))
        // A thread gone without an answer (killed, out of memory) must not leave pack waiting.
        w.once('exit', (code) => {
          if (!settled) fail(new IoError(`Cannot hash files: a hashing thread exited (code ${code}) before it answered`))
        })
        give(w)
      }
    })
  } finally {
    await Promise.all(workers.map((w) => w.terminate()))
  }
  return out
}
