import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, lstat, mkdir, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { promisify } from 'node:util'
import { fromSystemError, syncDir, verifyBundle, type BundleLimits, type Digest, type Manifest } from '../core/index.js'
import { createEntryWriter } from './entry-writer.js'

const execFileAsync = promisify(execFile)

/** Mount points an OCI runtime needs in a read-only rootfs. */
export const ROOTFS_MOUNT_POINTS = ['proc', 'dev', 'sys'] as const

export interface ExtractBundleOptions {
  /** The digest the bundle must have. */
  expectedDigest?: Digest
  /** Caps on size, entry count, file size and depth (see core DEFAULT_BUNDLE_LIMITS). */
  limits?: Partial<BundleLimits>
  /** Create /proc, /dev and /sys mount points when the bundle lacks them (default true). */
  mountPoints?: boolean
  signal?: AbortSignal
  onProgress?: (bytes: number) => void
}

export interface ExtractResult {
  digest: Digest
  size: number
  manifest: Manifest
}

/**
 * Verifies and unpacks a bundle into `dest`, which must not exist yet. Everything is written
 * into a sibling staging directory while the bundle streams and is hashed; only a bundle that
 * verifies completely is flushed to disk and renamed to `dest` in one step, so `dest` is either
 * absent or complete, whatever happens (a hostile entry, a tampered byte, a crash, a full disk).
 *
 * Safety does not rest on verification alone: every path was checked against the manifest
 * (relative, no '..', each parent a directory listed before it), and the entry writer has guards
 * of its own (createEntryWriter: parents only directories it made, O_CREAT|O_EXCL|O_NOFOLLOW,
 * modes 0644/0755), so no write can land outside the staging directory or pass through a
 * symlink; files belong to the extracting user.
 */
export async function extractBundle(input: Readable, dest: string, options: ExtractBundleOptions = {}): Promise<ExtractResult> {
  const staging = join(dirname(dest), `.${basename(dest)}.staging-${process.pid}-${randomBytes(6).toString('hex')}`)
  try {
    await mkdir(dirname(dest), { recursive: true })
    await mkdir(staging)
    await chmod(staging, 0o755)
  } catch (err) {
    throw fromSystemError(err, 'create staging directory', staging)
  }
  try {
    const result = await unpackInto(input, staging, options)
    try {
      await rename(staging, dest)
      await syncDir(dirname(dest))
    } catch (err) {
      throw fromSystemError(err, 'activate unpacked bundle', dest)
    }
    return result
  } catch (err) {
    await rm(staging, { recursive: true, force: true }).catch(() => {})
    throw err
  }
}

/**
 * The body of extractBundle without the staging and rename: verifies and unpacks into `dir`,
 * an existing empty directory (a snapshotter's active snapshot, whose commit is the atomic
 * step), then flushes it to disk. On failure `dir` holds a partial tree: the caller removes it.
 */
export async function unpackInto(input: Readable, dir: string, options: ExtractBundleOptions = {}): Promise<ExtractResult> {
  const { expectedDigest, limits, mountPoints = true, signal, onProgress } = options
  const writer = createEntryWriter(dir)
  const result = await verifyBundle(input, {
    expectedDigest,
    limits,
    signal,
    onProgress,
    onEntry: (entry, chunks) => writer.write(entry, chunks),
  })
  if (mountPoints) await createMountPoints(dir)
  await flush(dir)
  return result
}

async function createMountPoints(root: string): Promise<void> {
  for (const name of ROOTFS_MOUNT_POINTS) {
    const path = join(root, name)
    const exists = await lstat(path).then(
      () => true,
      () => false,
    )
    if (!exists) {
      await mkdir(path)
      await chmod(path, 0o755)
    }
  }
}

/**
 * Makes the unpacked tree durable before it becomes visible: one syncfs(2) of the file system
 * (coreutils `sync -f`) costs far less than an fsync per file for trees of many small files.
 */
async function flush(root: string): Promise<void> {
  try {
    await execFileAsync('sync', ['-f', root])
  } catch (err) {
    throw fromSystemError(err, 'flush unpacked bundle to disk', root)
  }
}
