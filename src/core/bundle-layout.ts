import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { Header } from 'tar-stream'
import { encodeManifest, type Manifest } from './manifest.js'
import { manifestTarHeader, tarHeaderFor } from './tar-header.js'

/**
 * Where every byte of a canonical bundle comes from, known from its manifest alone: the tar is
 * fully determined by the manifest and the file contents (see tar-header.ts), so a host that
 * has the manifest knows every header and padding byte, and the place of every file's content.
 */
export type LayoutSegment =
  /** Bytes known outright: headers, the manifest, padding, the end of the archive. */
  | { offset: number; kind: 'bytes'; data: Buffer }
  /** A file's content, `size` bytes with this sha256. */
  | { offset: number; kind: 'file'; path: string; size: number; sha256: string }

export interface BundleLayout {
  segments: LayoutSegment[]
  size: number
}

// tar-stream does not export its header codec; it is the one pack uses, so the bytes agree.
const require = createRequire(import.meta.url)
const headers = require(join(dirname(require.resolve('tar-stream')), 'headers.js')) as {
  encode(h: Header): Buffer | null
  encodePax(h: { name: string; linkname?: string; pax?: Record<string, string> }): Buffer
}

const ZERO = Buffer.alloc(1024)
const pad = (n: number): number => (512 - (n % 512)) % 512

/** A header's bytes as tar-stream's pack writes them (a pax header first when a name does not fit). */
export function encodeTarHeader(header: Header): Buffer {
  const plain = headers.encode(header)
  if (plain) return plain
  const pax = headers.encodePax({ name: header.name, linkname: header.linkname })
  const paxHeader: Header = { ...header, name: 'PaxHeader', size: pax.length, type: 'pax-header' as Header['type'], linkname: header.linkname ? 'PaxHeader' : '' }
  const main = headers.encode({ ...paxHeader, size: header.size, type: header.type })!
  return Buffer.concat([headers.encode(paxHeader)!, pax, ZERO.subarray(0, pad(pax.length)), main])
}

/** The layout of the bundle that `manifest` describes (byte-identical to what pack writes). */
export function bundleLayout(manifest: Manifest): BundleLayout {
  const segments: LayoutSegment[] = []
  let offset = 0
  const bytes = (data: Buffer): void => {
    if (data.length === 0) return
    segments.push({ offset, kind: 'bytes', data })
    offset += data.length
  }
  const manifestBytes = encodeManifest(manifest)
  bytes(Buffer.concat([encodeTarHeader(manifestTarHeader(manifestBytes.length, manifest.mtime)), manifestBytes, ZERO.subarray(0, pad(manifestBytes.length))]))
  for (const entry of manifest.entries) {
    bytes(encodeTarHeader(tarHeaderFor(entry, manifest.mtime)))
    if (entry.type !== 'file' || entry.size === 0) continue
    segments.push({ offset, kind: 'file', path: entry.path, size: entry.size, sha256: entry.sha256 })
    offset += entry.size
    bytes(ZERO.subarray(0, pad(entry.size)))
  }
  bytes(ZERO)
  return { segments, size: offset }
}
