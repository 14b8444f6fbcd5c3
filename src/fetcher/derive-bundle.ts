import { open, stat, type FileHandle } from 'node:fs/promises'
import {
  bundleLayout,
  DEFAULT_MAX_MANIFEST_BYTES,
  MANIFEST_PATH,
  parseManifest,
  readBodyLimited,
  readBundleManifest,
  type BundleLayout,
  type Digest,
  type Log,
  type Manifest,
} from '../core/index.js'
import { pieceMatches, pieceSize, type PartialPiece, type PieceFile, type TorrentInfo } from '../swarm/index.js'
import type { BundleCache } from './bundle-cache.js'

/** BEP 3 block: the unit a partly derived piece is completed in. */
const BLOCK = 16 << 10
/** Previous bundles indexed for content (the most recently used first). */
const MAX_SOURCES = 4
/** Memory held for partly derived pieces; past it such pieces are fetched whole. */
const MAX_PARTIAL_BYTES = 64 << 20
/** Guessed ranges tried both ways in one piece (2^n assemblies at most). */
const MAX_GUESSES = 3

/** Content of a file the host holds, at `offset` in a local bundle file. */
interface Source {
  file: string
  offset: number
  size: number
}

/** What the host holds, by content (sha256) and by path (for files that changed in place). */
export interface LocalContent {
  bySha: Map<string, Source>
  byPath: Map<string, Source>
  /** The bundles indexed. */
  bundles: Digest[]
}

export interface Derivation {
  /** Pieces adopted into the file whole (their hash matched). */
  pieces: number
  /** Bytes of those pieces. */
  bytes: number
  /** Pieces partly derived: only their missing blocks are fetched. */
  partials: Map<number, PartialPiece>
}

/**
 * Reads a bundle's manifest (its first tar entry) from a web seed by HTTP Range: the header, then
 * the manifest's bytes, each bounded. What it says is only a hint: every byte derived from it is
 * checked against the torrent's piece hashes, and the bundle digest end to end.
 */
export async function readRemoteManifest(urls: readonly string[], token: string, fetchFn: typeof fetch, signal: AbortSignal): Promise<{ manifest: Manifest; bytes: number }> {
  if (!urls.length) throw new Error('the torrent lists no web seed')
  // Any seeder's web seed (several origins share the load, as for pieces).
  const url = urls[Math.floor(Math.random() * urls.length)]!
  const get = async (start: number, length: number, what: string): Promise<Buffer> => {
    const headers: Record<string, string> = { range: `bytes=${start}-${start + length - 1}` }
    if (token) headers.authorization = `Bearer ${token}`
    const res = await fetchFn(url, { headers, signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]) })
    if (res.status !== 206) {
      await res.body?.cancel().catch(() => {})
      throw new Error(`the web seed answered ${res.status} for ${what}`)
    }
    const body = Buffer.from(await readBodyLimited(res, length, what))
    if (body.length !== length) throw new Error(`the web seed sent ${body.length} bytes of ${what}, not ${length}`)
    return body
  }
  const header = await get(0, 512, 'the manifest header')
  const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '')
  const size = parseInt(header.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim(), 8)
  if (name !== MANIFEST_PATH || !Number.isSafeInteger(size) || size <= 0 || size > DEFAULT_MAX_MANIFEST_BYTES) {
    throw new Error(`the bundle does not start with a readable manifest (${JSON.stringify(name.slice(0, 100))}, ${size} bytes)`)
  }
  return { manifest: parseManifest(await get(512, size, 'the manifest')), bytes: 512 + size }
}

/**
 * Indexes the content of the complete bundles in the cache (all but `except`), the most recently
 * used first: where each file's bytes are, by sha256 and by path. Bundles whose manifest cannot
 * be read are skipped (the cache holds only verified bundles; a damaged one only costs reuse).
 */
export async function indexLocalContent(cache: BundleCache, except: Digest, log: Log): Promise<LocalContent> {
  const held: { d: Digest; mtime: number }[] = []
  for (const d of await cache.list()) {
    if (d === except) continue
    const st = await stat(cache.path(d, 'tar')).catch(() => undefined)
    if (st) held.push({ d, mtime: st.mtimeMs })
  }
  held.sort((a, b) => b.mtime - a.mtime)
  const local: LocalContent = { bySha: new Map(), byPath: new Map(), bundles: [] }
  for (const { d } of held.slice(0, MAX_SOURCES)) {
    const file = cache.path(d, 'tar')
    let layout: BundleLayout
    try {
      layout = bundleLayout(await readBundleManifest(file))
    } catch (err) {
      log('warn', 'cached bundle skipped for reuse', { digest: d, message: (err as Error).message })
      continue
    }
    local.bundles.push(d)
    for (const s of layout.segments) {
      if (s.kind !== 'file') continue
      const source = { file, offset: s.offset, size: s.size }
      if (!local.bySha.has(s.sha256)) local.bySha.set(s.sha256, source)
      if (!local.byPath.has(s.path)) local.byPath.set(s.path, source)
    }
  }
  return local
}

/** One range of a piece: known (`sure`), two-way guessed (a file changed in place), or unknown. */
type Part =
  | { at: number; len: number; kind: 'sure'; data: Buffer | { src: Source; pos: number } }
  | { at: number; len: number; kind: 'guess'; cands: { src: Source; pos: number }[] }
  | { at: number; len: number; kind: 'unknown' }

/**
 * The parts of the piece [start, end): headers and padding are known from the manifest; a file
 * held with the same sha256 is known wherever it now sits; a file changed in place (same path,
 * other content) is guessed twice, as an unchanged head (same offsets) and as an unchanged tail
 * (offsets shifted by the change in size), which covers an edit, insertion or cut in its middle.
 */
function partsOf(layout: BundleLayout, first: number, start: number, end: number, local: LocalContent): Part[] {
  const parts: Part[] = []
  for (let k = first; k < layout.segments.length; k++) {
    const s = layout.segments[k]!
    const sLen = s.kind === 'bytes' ? s.data.length : s.size
    if (s.offset >= end) break
    const a = Math.max(start, s.offset)
    const b = Math.min(end, s.offset + sLen)
    if (b <= a) continue
    const at = a - start
    const len = b - a
    const rel = a - s.offset
    if (s.kind === 'bytes') {
      parts.push({ at, len, kind: 'sure', data: s.data.subarray(rel, rel + len) })
      continue
    }
    const same = local.bySha.get(s.sha256)
    if (same && same.size === s.size) {
      parts.push({ at, len, kind: 'sure', data: { src: same, pos: same.offset + rel } })
      continue
    }
    const old = local.byPath.get(s.path)
    const cands: { src: Source; pos: number }[] = []
    if (old) {
      if (rel + len <= old.size) cands.push({ src: old, pos: old.offset + rel })
      const shifted = rel - (s.size - old.size)
      if (shifted >= 0 && shifted + len <= old.size && shifted !== rel) cands.push({ src: old, pos: old.offset + shifted })
    }
    parts.push(cands.length ? { at, len, kind: 'guess', cands } : { at, len, kind: 'unknown' })
  }
  return parts
}

/** First segment that may overlap `offset` (segments are in offset order). */
function firstSegment(layout: BundleLayout, offset: number): number {
  let lo = 0
  let hi = layout.segments.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (layout.segments[mid]!.offset <= offset) lo = mid
    else hi = mid - 1
  }
  return lo
}

/**
 * Writes into `file` every piece of the new bundle the host can derive from content it already
 * holds and that matches its piece hash (adopted as verified, so it is seeded at once), and
 * returns the pieces partly derived (their known blocks; the rest comes from the swarm). Nothing
 * unverified is stored: a local file that changed on disk only costs fetching its pieces.
 */
export async function deriveBundle(file: PieceFile, info: TorrentInfo, layout: BundleLayout, local: LocalContent, signal: AbortSignal): Promise<Derivation> {
  const out: Derivation = { pieces: 0, bytes: 0, partials: new Map() }
  if (layout.size !== info.length) return out
  const handles = new Map<string, FileHandle>()
  const read = async (src: Source, pos: number, into: Buffer, at: number, len: number): Promise<boolean> => {
    let fh = handles.get(src.file)
    if (!fh) {
      fh = await open(src.file, 'r')
      handles.set(src.file, fh)
    }
    let done = 0
    while (done < len) {
      const { bytesRead } = await fh.read(into, at + done, len - done, pos + done)
      if (bytesRead === 0) return false
      done += bytesRead
    }
    return true
  }
  let partialBytes = 0
  try {
    const buf = Buffer.allocUnsafe(info.pieceLength)
    for (let i = 0; i < info.pieceCount; i++) {
      if (file.verified[i]) continue
      signal.throwIfAborted()
      const start = i * info.pieceLength
      const size = pieceSize(info, i)
      const piece = buf.subarray(0, size)
      const parts = partsOf(layout, firstSegment(layout, start), start, start + size, local)
      const sure: Part[] = []
      for (const p of parts) {
        if (p.kind !== 'sure') continue
        if (Buffer.isBuffer(p.data)) p.data.copy(piece, p.at)
        else if (!(await read(p.data.src, p.data.pos, piece, p.at, p.len))) continue
        sure.push(p)
      }
      const guesses = parts.filter((p) => p.kind === 'guess')
      if (sure.length + guesses.length === parts.length && (await tryGuesses(guesses, piece, read, () => pieceMatches(info, i, piece)))) {
        await file.adopt(i, piece)
        out.pieces++
        out.bytes += size
        continue
      }
      // Not whole: keep the blocks that lie entirely in known bytes.
      const known = new Uint8Array(Math.ceil(size / BLOCK))
      for (let b = 0; b < known.length; b++) {
        const bs = b * BLOCK
        const be = Math.min(size, bs + BLOCK)
        let covered = bs
        for (const p of sure) if (p.at <= covered && p.at + p.len > covered) covered = Math.min(be, p.at + p.len)
        known[b] = covered >= be ? 1 : 0
      }
      const missing: number[] = []
      known.forEach((k, b) => k || missing.push(b * BLOCK))
      const knownBytes = size - missing.reduce((n, o) => n + Math.min(BLOCK, size - o), 0)
      if (knownBytes === 0 || partialBytes + size > MAX_PARTIAL_BYTES) continue
      partialBytes += size
      out.partials.set(i, { data: Buffer.from(piece), missing, known: knownBytes })
    }
  } finally {
    await Promise.all([...handles.values()].map((fh) => fh.close().catch(() => {})))
  }
  return out
}

/** Fills the guessed ranges each way (head or tail of the old file) until `matches` says yes. */
async function tryGuesses(
  guesses: Extract<Part, { kind: 'guess' }>[],
  piece: Buffer,
  read: (src: Source, pos: number, into: Buffer, at: number, len: number) => Promise<boolean>,
  matches: () => boolean,
): Promise<boolean> {
  const tried = guesses.slice(0, MAX_GUESSES)
  for (const g of guesses.slice(MAX_GUESSES)) if (!(await read(g.cands[0]!.src, g.cands[0]!.pos, piece, g.at, g.len))) return false
  const combos = tried.reduce((n, g) => n * g.cands.length, 1)
  for (let c = 0; c < combos; c++) {
    let rest = c
    let ok = true
    for (const g of tried) {
      const cand = g.cands[rest % g.cands.length]!
      rest = Math.floor(rest / g.cands.length)
      if (!(await read(cand.src, cand.pos, piece, g.at, g.len))) ok = false
    }
    if (ok && matches()) return true
  }
  return false
}
