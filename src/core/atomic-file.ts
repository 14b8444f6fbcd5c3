import { randomBytes } from 'node:crypto'
import { open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Writable } from 'node:stream'
import { fromSystemError } from './errors.js'

export interface AtomicFileOptions {
  signal?: AbortSignal
  /** File mode of the result. */
  mode?: number
}

/**
 * Writes a file so that readers only ever see the old file or the complete new one: `write`
 * fills a temporary sibling, which is fsynced and renamed over `path` only once `write`
 * resolves. On any failure the temporary file is removed and nothing at `path` changes.
 */
export async function writeFileAtomically<T>(
  path: string,
  write: (stream: Writable) => Promise<T>,
  options: AtomicFileOptions = {},
): Promise<T> {
  const { signal, mode = 0o644 } = options
  signal?.throwIfAborted()
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.partial-${process.pid}-${randomBytes(6).toString('hex')}`)
  let handle: import('node:fs/promises').FileHandle | undefined
  try {
    handle = await open(tmp, 'wx', mode)
  } catch (err) {
    throw fromSystemError(err, 'create file', tmp)
  }
  // flush: fsync before the stream closes its handle, so the rename below publishes data that
  // is on disk. The stream owns the handle from here on.
  const stream = handle.createWriteStream({ flush: true, highWaterMark: 1 << 20 })
  handle = undefined
  const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()))
  try {
    const result = await write(stream)
    if (!stream.writableEnded) stream.end()
    await closed
    if (stream.errored) throw stream.errored
    signal?.throwIfAborted()
    await rename(tmp, path)
    await syncDir(dir)
    return result
  } catch (err) {
    stream.destroy()
    await closed
    await unlink(tmp).catch(() => {})
    throw fromSystemError(err, 'write file', path)
  }
}

/** fsync a directory so that a rename in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r')
  try {
    await h.sync()
  } finally {
    await h.close()
  }
}
