import { lstatSync, readdirSync, readlinkSync } from 'node:fs'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { join } from 'node:path'
import { bundlePathProblem, RESERVED_DIR } from './bundle-path.js'
import {
  fromSystemError,
  HardlinkNotSupportedError,
  SourceNotFoundError,
  UnsupportedFileTypeError,
  UnsupportedPathError,
} from './errors.js'
import { DIR_MODE, SYMLINK_MODE } from './manifest.js'

/** One entry of a source tree, as it will go into a bundle. */
export type ScannedEntry =
  | { type: 'file'; path: string; absPath: string; mode: 0o644 | 0o755; size: number; ino: number; mtimeMs: number; ctimeMs: number }
  | { type: 'dir'; path: string; absPath: string; mode: typeof DIR_MODE }
  | { type: 'symlink'; path: string; absPath: string; mode: typeof SYMLINK_MODE; target: string }

export interface ScanTreeOptions {
  signal?: AbortSignal
}

function describeType(st: import('node:fs').Stats): string {
  if (st.isSocket()) return 'a socket'
  if (st.isFIFO()) return 'a FIFO'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  return 'an unknown file type'
}

function decodeName(raw: Buffer, parent: string): string {
  const name = raw.toString('utf8')
  // Round-trip check: a name that is not valid UTF-8 cannot be stored losslessly in the
  // manifest (JSON) nor in a pax header, so it is refused rather than mangled.
  if (!Buffer.from(name, 'utf8').equals(raw)) {
    throw new UnsupportedPathError(`Cannot pack entry: its name is not valid UTF-8 (current value is ${JSON.stringify(join(parent, name))})`, {
      details: { path: join(parent, name), bytes: raw.toString('hex') },
    })
  }
  return name
}

/**
 * Lists a source tree in bundle order (bytewise by path). Every directory, file and symlink is
 * an entry; the root itself is not. Sockets, FIFOs, devices and hard-linked files are refused
 * with an error naming the path, since a bundle cannot reproduce them faithfully.
 */
export async function scanTree(root: string, options: ScanTreeOptions = {}): Promise<ScannedEntry[]> {
  const { signal } = options
  let rootStat
  try {
    rootStat = lstatSync(root)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SourceNotFoundError(`Cannot pack directory: it does not exist (current value is ${root})`, { details: { path: root } })
    }
    throw fromSystemError(err, 'pack directory', root)
  }
  if (!rootStat.isDirectory()) {
    throw new SourceNotFoundError(`Cannot pack directory: it is not a directory (current value is ${root})`, { details: { path: root } })
  }

  // Synchronous calls: from the page cache an lstat takes microseconds, and one thread-pool
  // round trip per entry made listing trees of small files the slowest part of packing. The
  // loop yields between directories so that timers, signals and progress still run.
  const out: ScannedEntry[] = []
  const stack: string[] = ['']
  let sinceYield = 0
  while (stack.length > 0) {
    if (sinceYield > 2000) {
      sinceYield = 0
      await yieldToLoop()
    }
    signal?.throwIfAborted()
    const rel = stack.pop()!
    const dirAbs = rel === '' ? root : join(root, rel)
    let names: Buffer[]
    try {
      names = readdirSync(dirAbs, { encoding: 'buffer' })
    } catch (err) {
      throw fromSystemError(err, 'read directory', dirAbs)
    }
    sinceYield += names.length
    for (const raw of names) {
      const name = decodeName(raw, rel)
      const path = rel === '' ? name : `${rel}/${name}`
      if (rel === '' && name === RESERVED_DIR) {
        throw new UnsupportedPathError(`Cannot pack entry: ${RESERVED_DIR}/ is reserved for the bundle manifest (current value is ${path})`, {
          details: { path },
        })
      }
      const problem = bundlePathProblem(path)
      if (problem !== undefined) {
        throw new UnsupportedPathError(`Cannot pack entry: ${problem} (current value is ${JSON.stringify(path.slice(0, 200))})`, { details: { path } })
      }
      const absPath = join(root, path)
      let st
      try {
        st = lstatSync(absPath)
      } catch (err) {
        throw fromSystemError(err, 'stat entry', absPath)
      }
      if (st.isDirectory()) {
        out.push({ type: 'dir', path, absPath, mode: DIR_MODE })
        stack.push(path)
      } else if (st.isFile()) {
        if (st.nlink > 1) {
          throw new HardlinkNotSupportedError(`Cannot pack entry: it is a hard link with ${st.nlink} names (current value is ${path})`, {
            details: { path, nlink: st.nlink },
          })
        }
        // The exec bit decides the mode; everything else about permissions and ownership is
        // dropped so that the same tree packs to the same bytes on any machine.
        const mode = st.mode & 0o100 ? 0o755 : 0o644
        out.push({ type: 'file', path, absPath, mode, size: st.size, ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs })
      } else if (st.isSymbolicLink()) {
        let target: string
        try {
          target = readlinkSync(absPath, { encoding: 'buffer' }).toString('utf8')
        } catch (err) {
          throw fromSystemError(err, 'read symlink', absPath)
        }
        if (target.length === 0 || target.includes('\ufffd')) {
          throw new UnsupportedPathError(`Cannot pack symlink: its target is empty or not valid UTF-8 (current value is ${path})`, { details: { path } })
        }
        out.push({ type: 'symlink', path, absPath, mode: SYMLINK_MODE, target })
      } else {
        throw new UnsupportedFileTypeError(`Cannot pack entry: it is ${describeType(st)} (current value is ${path})`, {
          details: { path },
        })
      }
    }
  }
  // Sort on precomputed UTF-8 keys: bundle order is bytewise, not UTF-16 code units.
  const keyed = out.map((entry) => ({ entry, key: Buffer.from(entry.path) }))
  keyed.sort((a, b) => Buffer.compare(a.key, b.key))
  return keyed.map((k) => k.entry)
}
