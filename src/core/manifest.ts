import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { bundlePathProblem, compareBundlePaths, parentPath, unsafePathError } from './bundle-path.js'
import { EntryOrderError, ManifestInvalidError, UnsafeSymlinkParentError } from './errors.js'
import { canonicalLaunchConfig, LaunchConfigSchema } from './launch-config.js'

/** Version of the manifest format; bumped only with a migration note in the README. */
export const MANIFEST_SCHEMA_VERSION = 1

export const FILE_MODES = [0o644, 0o755] as const
export const DIR_MODE = 0o755
export const SYMLINK_MODE = 0o777

const Path = Type.String({ minLength: 1, maxLength: 4096 })

export const FileEntrySchema = Type.Object(
  {
    path: Path,
    type: Type.Literal('file'),
    mode: Type.Union([Type.Literal(0o644), Type.Literal(0o755)]),
    size: Type.Integer({ minimum: 0 }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { additionalProperties: false },
)
export const DirEntrySchema = Type.Object(
  { path: Path, type: Type.Literal('dir'), mode: Type.Literal(DIR_MODE) },
  { additionalProperties: false },
)
export const SymlinkEntrySchema = Type.Object(
  { path: Path, type: Type.Literal('symlink'), mode: Type.Literal(SYMLINK_MODE), target: Type.String({ minLength: 1, maxLength: 4096 }) },
  { additionalProperties: false },
)
export const ManifestEntrySchema = Type.Union([FileEntrySchema, DirEntrySchema, SymlinkEntrySchema])

export const ManifestSchema = Type.Object(
  {
    schema: Type.Literal(MANIFEST_SCHEMA_VERSION),
    /** The mtime, in seconds since the epoch, written into every tar header. */
    mtime: Type.Integer({ minimum: 0, maximum: 8589934591 }),
    entries: Type.Array(ManifestEntrySchema),
    launch: Type.Optional(LaunchConfigSchema),
  },
  { additionalProperties: false },
)

export type FileEntry = Static<typeof FileEntrySchema>
export type DirEntry = Static<typeof DirEntrySchema>
export type SymlinkEntry = Static<typeof SymlinkEntrySchema>
export type ManifestEntry = Static<typeof ManifestEntrySchema>
export type Manifest = Static<typeof ManifestSchema>

const check = TypeCompiler.Compile(ManifestSchema)

/** One entry with its keys in canonical order. */
function canonicalEntry(e: ManifestEntry): ManifestEntry {
  switch (e.type) {
    case 'file':
      return { path: e.path, type: 'file', mode: e.mode, size: e.size, sha256: e.sha256 }
    case 'dir':
      return { path: e.path, type: 'dir', mode: e.mode }
    case 'symlink':
      return { path: e.path, type: 'symlink', mode: e.mode, target: e.target }
  }
}

/**
 * The manifest's bytes: compact JSON with keys in a fixed order and a final newline, so that
 * the same tree always yields the same manifest and hence the same bundle digest.
 */
export function encodeManifest(manifest: Manifest): Buffer {
  const out: Manifest = {
    schema: manifest.schema,
    mtime: manifest.mtime,
    entries: manifest.entries.map(canonicalEntry),
  }
  if (manifest.launch) out.launch = canonicalLaunchConfig(manifest.launch)
  return Buffer.from(JSON.stringify(out) + '\n')
}

/**
 * Checks the rules a schema cannot say: entry paths are safe, strictly increasing bytewise
 * (so no duplicates), and every entry's parent is a directory listed before it.
 */
export function checkManifestEntries(entries: readonly ManifestEntry[]): void {
  const types = new Map<string, ManifestEntry['type']>()
  let previous: string | undefined
  for (const [i, entry] of entries.entries()) {
    if (bundlePathProblem(entry.path) !== undefined) throw unsafePathError(entry.path, `manifest entry ${i}`)
    if (previous !== undefined && compareBundlePaths(previous, entry.path) >= 0) {
      throw new EntryOrderError(`Cannot accept manifest: entries are not in strictly increasing bytewise order at ${JSON.stringify(entry.path)} (previous is ${JSON.stringify(previous)})`, {
        details: { index: i, path: entry.path, previous },
      })
    }
    const parent = parentPath(entry.path)
    if (parent !== '' && types.get(parent) === 'symlink') {
      throw new UnsafeSymlinkParentError(`Cannot accept manifest: ${JSON.stringify(entry.path)} would be written through the symlink ${JSON.stringify(parent)}`, {
        details: { index: i, path: entry.path, symlink: parent },
      })
    }
    if (parent !== '' && types.get(parent) !== 'dir') {
      throw new ManifestInvalidError(`Cannot accept manifest: the parent of ${JSON.stringify(entry.path)} is not a directory listed before it`, {
        details: { index: i, path: entry.path },
      })
    }
    types.set(entry.path, entry.type)
    previous = entry.path
  }
}

/** Parses and fully validates manifest bytes; throws MANIFEST_INVALID or ENTRY_OUT_OF_ORDER. */
export function parseManifest(bytes: Buffer): Manifest {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw new ManifestInvalidError(`Cannot parse manifest: it is not valid JSON (${(err as Error).message})`, { cause: err })
  }
  if (!check.Check(value)) {
    const first = check.Errors(value).First()
    throw new ManifestInvalidError(`Cannot accept manifest: ${first ? `${first.path || '/'}: ${first.message}` : 'schema mismatch'}`, {
      details: { path: first?.path },
    })
  }
  checkManifestEntries(value.entries)
  return value
}

/** Totals for display and caps. */
export function manifestTotals(manifest: Manifest): { files: number; dirs: number; symlinks: number; bytes: number } {
  const t = { files: 0, dirs: 0, symlinks: 0, bytes: 0 }
  for (const e of manifest.entries) {
    if (e.type === 'file') {
      t.files++
      t.bytes += e.size
    } else if (e.type === 'dir') t.dirs++
    else t.symlinks++
  }
  return t
}
