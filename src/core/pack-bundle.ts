import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import tar from 'tar-stream'
import { writeFileAtomically } from './atomic-file.js'
import { HashingPassThrough, type Digest } from './digest.js'
import { fromSystemError, LaunchConfigInvalidError } from './errors.js'
import { hashFiles } from './hash-files.js'
import { parseLaunchConfig, type LaunchConfig } from './launch-config.js'
import { encodeManifest, MANIFEST_SCHEMA_VERSION, type Manifest, type ManifestEntry } from './manifest.js'
import { readSmallSourceFile, readSourceFile, SMALL_FILE_BYTES } from './read-source-file.js'
import { scanTree, type ScannedEntry } from './scan-tree.js'
import { addTarEntry, openTarEntry, writeWithBackpressure } from './tar-entry.js'
import { manifestTarHeader, tarHeaderFor } from './tar-header.js'

/** Files hashed at once in the first pass, to overlap I/O latency with hashing. */
const HASH_CONCURRENCY = 4
/** From this much content the first pass runs on worker threads (which take ~30 ms to start). */
const WORKER_HASH_BYTES = 16 << 20

export interface PackProgress {
  phase: 'scanning' | 'hashing' | 'writing'
  /** Bytes of file content done in this phase. */
  bytes: number
  totalBytes: number
  entries: number
  totalEntries: number
}

export interface PackBundleOptions {
  /** mtime for every header, seconds since the epoch (`SOURCE_DATE_EPOCH`); default 0. */
  mtime?: number
  signal?: AbortSignal
  onProgress?: (progress: PackProgress) => void
}

export interface PackResult {
  digest: Digest
  /** Bytes of the bundle (the tar). */
  size: number
  manifest: Manifest
}

/** Name of the optional launch config at the root of a build output. */
export const LAUNCH_CONFIG_FILE = 'shoal.json'

async function readLaunchConfig(root: string, entries: ScannedEntry[]): Promise<LaunchConfig | undefined> {
  const entry = entries.find((e) => e.path === LAUNCH_CONFIG_FILE)
  if (!entry) return undefined
  if (entry.type !== 'file') {
    throw new LaunchConfigInvalidError(`Cannot read launch config: ${LAUNCH_CONFIG_FILE} is a ${entry.type}, not a file`)
  }
  let value: unknown
  try {
    value = JSON.parse(await readFile(join(root, LAUNCH_CONFIG_FILE), 'utf8'))
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new LaunchConfigInvalidError(`Cannot read launch config: ${LAUNCH_CONFIG_FILE} is not valid JSON (${err.message})`, { cause: err })
    }
    throw fromSystemError(err, 'read launch config', join(root, LAUNCH_CONFIG_FILE))
  }
  return parseLaunchConfig(value, LAUNCH_CONFIG_FILE)
}

async function hashFile(entry: ScannedFile, buffer: Buffer, signal: AbortSignal | undefined, onBytes: (n: number) => void): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of readSourceFile(entry.absPath, entry.path, entry.size, { signal, reuse: buffer })) {
    hash.update(chunk)
    onBytes(chunk.length)
  }
  return hash.digest('hex')
}

type ScannedFile = Extract<ScannedEntry, { type: 'file' }>

/**
 * Packs a build output directory into a bundle written to `output`, streaming: memory stays
 * flat whatever the tree's size. Two passes over the files: the first hashes each file for the
 * manifest (which must come first in the tar), the second writes the tar. A file whose inode,
 * size, mtime or ctime differs after its last read from what the listing saw fails with
 * SOURCE_CHANGED instead of producing a bundle that contradicts its own manifest (ctime moves on
 * every write, so a same-size rewrite is caught too, without hashing every file twice).
 */
export async function packBundle(root: string, output: Writable, options: PackBundleOptions = {}): Promise<PackResult> {
  const { mtime = 0, signal, onProgress } = options
  if (!Number.isInteger(mtime) || mtime < 0 || mtime > 8589934591) {
    throw new RangeError(`Cannot pack bundle: mtime must be whole seconds in [0, 8589934591] (current value is ${mtime})`)
  }
  onProgress?.({ phase: 'scanning', bytes: 0, totalBytes: 0, entries: 0, totalEntries: 0 })
  const scanned = await scanTree(root, { signal })
  const launch = await readLaunchConfig(root, scanned)

  const totalBytes = scanned.reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0)
  const totalEntries = scanned.length
  const progress: PackProgress = { phase: 'hashing', bytes: 0, totalBytes, entries: 0, totalEntries }
  const report = (): void => onProgress?.({ ...progress })

  // Pass 1: content hashes for the manifest: on worker threads for large trees (see hashFiles),
  // else here, a few files at a time.
  const onBytes = (n: number): void => {
    progress.bytes += n
    report()
  }
  const hashes = new Map<ScannedFile, string>()
  if (totalBytes >= WORKER_HASH_BYTES) {
    const files = scanned.filter((e): e is ScannedFile => e.type === 'file')
    for (const [k, sha256] of (await hashFiles(files, { signal, onBytes })).entries()) hashes.set(files[k]!, sha256)
  } else {
    let next = 0
    const worker = async (): Promise<void> => {
      const buffer = Buffer.allocUnsafe(SMALL_FILE_BYTES + 1)
      while (next < scanned.length) {
        const e = scanned[next++]!
        if (e.type === 'file') hashes.set(e, await hashFile(e, buffer, signal, onBytes))
        progress.entries++
      }
    }
    await Promise.all(Array.from({ length: HASH_CONCURRENCY }, worker))
  }
  const entries = scanned.map((e): ManifestEntry => {
    if (e.type === 'file') return { path: e.path, type: 'file', mode: e.mode, size: e.size, sha256: hashes.get(e)! }
    if (e.type === 'dir') return { path: e.path, type: 'dir', mode: e.mode }
    return { path: e.path, type: 'symlink', mode: e.mode, target: e.target }
  })
  progress.entries = scanned.length
  report()

  const manifest: Manifest = { schema: MANIFEST_SCHEMA_VERSION, mtime, entries }
  if (launch) manifest.launch = launch
  const manifestBytes = encodeManifest(manifest)

  // Pass 2: the tar itself.
  Object.assign(progress, { phase: 'writing', bytes: 0, entries: 0 })
  report()
  const pack = tar.pack()
  const hasher = new HashingPassThrough()
  const piped = pipeline(pack, hasher, output, { signal })
  const write = async (): Promise<void> => {
    await addTarEntry(pack, manifestTarHeader(manifestBytes.length, mtime), manifestBytes)
    for (const [i, entry] of entries.entries()) {
      signal?.throwIfAborted()
      const header = tarHeaderFor(entry, mtime)
      if (entry.type === 'file') {
        const source = scanned[i] as ScannedFile
        const onBytes = (n: number): void => {
          progress.bytes += n
          report()
        }
        if (source.size <= SMALL_FILE_BYTES) {
          const body = await readSmallSourceFile(source.absPath, source.path, source.size, { signal, expect: source })
          await addSmallFile(pack, header, body, onBytes)
        } else {
          await addFile(pack, header, source, signal, onBytes)
        }
      } else {
        await addTarEntry(pack, header)
      }
      progress.entries++
    }
    pack.finalize()
  }
  try {
    await Promise.all([write().catch((err) => {
      pack.destroy(err)
      throw err
    }), piped])
  } catch (err) {
    throw fromSystemError(err, 'write bundle')
  }
  report()
  return { digest: hasher.digest(), size: hasher.bytes, manifest }
}

async function addFile(pack: tar.Pack, header: tar.Header, source: ScannedFile, signal: AbortSignal | undefined, onBytes: (n: number) => void): Promise<void> {
  const { sink, done } = openTarEntry(pack, header)
  for await (const chunk of readSourceFile(source.absPath, source.path, source.size, { signal, expect: source })) {
    onBytes(chunk.length)
    await writeWithBackpressure(sink, chunk)
  }
  sink.end()
  await done
}

async function addSmallFile(pack: tar.Pack, header: tar.Header, body: Buffer, onBytes: (n: number) => void): Promise<void> {
  onBytes(body.length)
  if (body.length === 0) await addTarEntry(pack, header)
  else await addTarEntry(pack, header, body)
}

/**
 * Packs `root` into the file `outFile` atomically: the file appears complete or not at all.
 */
export async function packBundleToFile(root: string, outFile: string, options: PackBundleOptions = {}): Promise<PackResult> {
  return writeFileAtomically(outFile, (stream) => packBundle(root, stream, options), { signal: options.signal })
}
