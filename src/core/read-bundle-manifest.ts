import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import tar from 'tar-stream'
import { MANIFEST_PATH } from './bundle-path.js'
import { formatDigest, type Digest } from './digest.js'
import { BundleCorruptError, BundleTruncatedError, fromSystemError, ManifestInvalidError, ManifestMissingError, ShoalError } from './errors.js'
import { parseManifest, type Manifest } from './manifest.js'
import { DEFAULT_MAX_MANIFEST_BYTES } from './verify-bundle.js'

/**
 * Reads only the manifest (the first entry) of a bundle file, without verifying the rest:
 * what `inspect` shows. Use verifyBundle before trusting anything it says.
 */
export async function readBundleManifest(path: string, options: { signal?: AbortSignal; maxManifestBytes?: number } = {}): Promise<Manifest> {
  const { signal, maxManifestBytes = DEFAULT_MAX_MANIFEST_BYTES } = options
  const input = createReadStream(path, { signal })
  const extract = tar.extract()
  input.on('error', (err) => extract.destroy(err))
  input.pipe(extract as unknown as NodeJS.WritableStream)
  try {
    for await (const entry of extract) {
      if (entry.header.name !== MANIFEST_PATH || entry.header.type !== 'file') {
        throw new ManifestMissingError(`Cannot read manifest: the first entry is ${JSON.stringify(entry.header.name)}, not ${MANIFEST_PATH}`)
      }
      if ((entry.header.size ?? 0) > maxManifestBytes) {
        throw new ManifestInvalidError(`Cannot read manifest: it is ${entry.header.size} bytes, more than the limit of ${maxManifestBytes}`)
      }
      const parts: Buffer[] = []
      for await (const chunk of entry) parts.push(chunk as Buffer)
      return parseManifest(Buffer.concat(parts))
    }
    throw new ManifestMissingError('Cannot read manifest: the bundle holds no entries')
  } catch (err) {
    if (err instanceof ShoalError) throw err
    const message = (err as Error)?.message ?? ''
    if (/unexpected end/i.test(message)) throw new BundleTruncatedError('Cannot read manifest: the bundle ends inside it', { cause: err })
    if (/tar header/i.test(message)) throw new BundleCorruptError(`Cannot read manifest: the bundle is not a readable tar (${message})`, { cause: err })
    throw fromSystemError(err, 'read manifest', path)
  } finally {
    input.destroy()
    extract.destroy()
  }
}

/**
 * sha256 digest of a whole file. Two buffers taken in turn: the next read runs on the thread pool
 * while this one is hashed, and no buffer is allocated per chunk (a stream's fresh 1 MiB chunks
 * drove a full garbage collection every few MiB in a fetcher; issue #18).
 */
export async function digestFile(path: string, options: { signal?: AbortSignal } = {}): Promise<{ digest: Digest; size: number }> {
  const hash = createHash('sha256')
  const CHUNK = 1 << 20
  const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)]
  let size = 0
  let fh: FileHandle | undefined
  try {
    fh = await open(path, 'r')
    const f = fh
    const read = (k: number, pos: number): Promise<number> => {
      const p = f.read(bufs[k % 2]!, 0, CHUNK, pos).then((r) => r.bytesRead)
      p.catch(() => {}) // awaited below unless an abort comes first
      return p
    }
    let next = read(0, 0)
    for (let k = 0; ; k++) {
      const n = await next
      if (n === 0) break
      options.signal?.throwIfAborted()
      next = read(k + 1, size + n)
      hash.update(n === CHUNK ? bufs[k % 2]! : bufs[k % 2]!.subarray(0, n))
      size += n
    }
  } catch (err) {
    throw fromSystemError(err, 'hash file', path)
  } finally {
    await fh?.close()
  }
  return { digest: formatDigest(hash), size }
}
