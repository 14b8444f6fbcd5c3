/**
 * The one error registry of Shoal (STYLE.md rule 4).
 *
 * Every failure a user can meet is a `ShoalError` subclass with a stable UPPER_SNAKE `code`.
 * Codes are what the HTTP API, the CLI's exit message and host reports carry, so they are
 * never renamed or reused; `docs/errors.md` lists each one and a test keeps the two in step.
 * Programmer mistakes in options stay built-in `TypeError`/`RangeError`.
 */

/** What kind of failure an error is; decides the CLI exit code and the HTTP status. */
export type ErrorKind =
  /** The input (a bundle, a tree, a signature) is not acceptable. */
  | 'integrity'
  /** The request or argument is malformed. */
  | 'invalid'
  /** Authentication or authorisation failed. */
  | 'auth'
  /** The thing asked for does not exist. */
  | 'not-found'
  /** The request conflicts with stored state. */
  | 'conflict'
  /** The environment failed us: disk, network, a child process. */
  | 'io'

export interface ShoalErrorOptions {
  cause?: unknown
  /** Machine-readable facts (a path, an expected digest) for reports and `--json`. */
  details?: Record<string, unknown>
}

export class ShoalError extends Error {
  readonly code: string
  readonly kind: ErrorKind
  readonly statusCode: number
  readonly details: Record<string, unknown>

  constructor(code: string, kind: ErrorKind, statusCode: number, message: string, options: ShoalErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ShoalError'
    this.code = code
    this.kind = kind
    this.statusCode = statusCode
    this.details = options.details ?? {}
  }

  /** The shape errors take on the wire: `{ statusCode, code, message }` plus details. */
  toJSON(): { statusCode: number; code: string; message: string; details?: Record<string, unknown> } {
    const body: { statusCode: number; code: string; message: string; details?: Record<string, unknown> } = {
      statusCode: this.statusCode,
      code: this.code,
      message: this.message,
    }
    if (Object.keys(this.details).length > 0) body.details = this.details
    return body
  }
}

export interface ErrorDefinition {
  code: string
  kind: ErrorKind
  statusCode: number
  /** One line for docs/errors.md: when this error is raised. */
  description: string
}

const registry = new Map<string, ErrorDefinition>()
const classes = new Map<string, ShoalErrorClass>()

export type ShoalErrorClass = (new (message?: string, options?: ShoalErrorOptions) => ShoalError) & {
  readonly code: string
}

function defineError(code: string, kind: ErrorKind, statusCode: number, description: string): ShoalErrorClass {
  if (!/^[A-Z][A-Z0-9_]+$/.test(code)) throw new TypeError(`Cannot define error: code is not UPPER_SNAKE (current value is ${code})`)
  if (registry.has(code)) throw new TypeError(`Cannot define error: code is already used (current value is ${code})`)
  registry.set(code, { code, kind, statusCode, description })
  const name = code
    .toLowerCase()
    .split('_')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('') + 'Error'
  const cls = class extends ShoalError {
    static readonly code = code
    constructor(message: string = description, options: ShoalErrorOptions = {}) {
      super(code, kind, statusCode, message, options)
      this.name = name
    }
  }
  Object.defineProperty(cls, 'name', { value: name })
  classes.set(code, cls)
  return cls
}

/** Every registered error, for docs, the OpenAPI document and tests. */
export function listErrors(): ErrorDefinition[] {
  return [...registry.values()]
}

/** True when `err` is a ShoalError, optionally of one code. */
export function isShoalError(err: unknown, code?: string): err is ShoalError {
  return err instanceof ShoalError && (code === undefined || err.code === code)
}

// ---- Source trees (pack) -------------------------------------------------------------------

export const SourceNotFoundError = defineError('SOURCE_NOT_FOUND', 'not-found', 404,
  'The directory to pack does not exist or is not a directory')
export const UnsupportedFileTypeError = defineError('UNSUPPORTED_FILE_TYPE', 'integrity', 422,
  'A tree entry is a socket, FIFO or device; bundles hold only files, directories and symlinks')
export const HardlinkNotSupportedError = defineError('HARDLINK_NOT_SUPPORTED', 'integrity', 422,
  'A regular file has more than one hard link; bundles cannot express hard links')
export const UnsupportedPathError = defineError('UNSUPPORTED_PATH', 'integrity', 422,
  'A path is not valid UTF-8, holds a control character, is reserved (.shoal/) or is too long')
export const SourceChangedError = defineError('SOURCE_CHANGED', 'io', 409,
  'A file changed while it was being packed')
export const LaunchConfigInvalidError = defineError('LAUNCH_CONFIG_INVALID', 'invalid', 400,
  'shoal.json in the build output does not match its schema')

// ---- Bundles (verify, inspect, unpack) -------------------------------------------------------

export const BundleCorruptError = defineError('BUNDLE_CORRUPT', 'integrity', 422,
  'The bundle is not a readable tar (bad header checksum or unknown format)')
export const BundleTruncatedError = defineError('BUNDLE_TRUNCATED', 'integrity', 422,
  'The bundle ends before its last entry or before the end-of-archive marker')
export const BundleDigestMismatchError = defineError('BUNDLE_DIGEST_MISMATCH', 'integrity', 422,
  'The sha256 of the whole bundle is not the expected digest')
export const BundleNotCanonicalError = defineError('BUNDLE_NOT_CANONICAL', 'integrity', 422,
  'The bundle is a valid tar but not the canonical encoding of its manifest (padding, headers or trailing data differ)')
export const ManifestMissingError = defineError('MANIFEST_MISSING', 'integrity', 422,
  'The first entry of the bundle is not .shoal/manifest.json')
export const ManifestInvalidError = defineError('MANIFEST_INVALID', 'integrity', 422,
  'The manifest is not valid JSON or does not match the manifest schema')
export const ManifestEntryMissingError = defineError('MANIFEST_ENTRY_MISSING', 'integrity', 422,
  'The manifest lists an entry the bundle does not contain')
export const ManifestEntryUnlistedError = defineError('MANIFEST_ENTRY_UNLISTED', 'integrity', 422,
  'The bundle contains an entry the manifest does not list')
export const EntryOrderError = defineError('ENTRY_OUT_OF_ORDER', 'integrity', 422,
  'Bundle entries are not sorted bytewise by path, or appear twice')
export const EntryMetadataMismatchError = defineError('ENTRY_METADATA_MISMATCH', 'integrity', 422,
  'An entry\'s type, mode, size, owner or link target differs from the manifest')
export const EntryDigestMismatchError = defineError('ENTRY_DIGEST_MISMATCH', 'integrity', 422,
  'A file\'s content does not match the sha256 the manifest gives for it')
export const UnsafeAbsolutePathError = defineError('UNSAFE_ABSOLUTE_PATH', 'integrity', 422,
  'A bundle entry has an absolute path')
export const UnsafePathTraversalError = defineError('UNSAFE_PATH_TRAVERSAL', 'integrity', 422,
  'A bundle entry path has a ".." component (zip-slip)')
export const UnsafeSymlinkParentError = defineError('UNSAFE_SYMLINK_PARENT', 'integrity', 422,
  'A bundle entry would be written through a symlink')
export const UnsafeHardlinkError = defineError('UNSAFE_HARDLINK', 'integrity', 422,
  'A bundle holds a hard link entry')
export const UnsafeSpecialFileError = defineError('UNSAFE_SPECIAL_FILE', 'integrity', 422,
  'A bundle holds a device node, FIFO or other special file')
export const UnsafeSetuidError = defineError('UNSAFE_SETUID', 'integrity', 422,
  'A bundle entry has the setuid, setgid or sticky bit')
export const UnsafeTarEntryError = defineError('UNSAFE_TAR_ENTRY', 'integrity', 422,
  'A bundle entry has a name with control characters, an empty or "." component, or another unsafe form')
export const DuplicateEntryError = defineError('DUPLICATE_ENTRY', 'integrity', 422,
  'A bundle holds the same path twice')
export const BundleLimitExceededError = defineError('BUNDLE_LIMIT_EXCEEDED', 'integrity', 422,
  'A bundle exceeds a cap on total size, entry count, file size or path depth')
export const DigestInvalidError = defineError('DIGEST_INVALID', 'invalid', 400,
  'A digest is not of the form sha256:<64 lowercase hex>')

// ---- Signatures ------------------------------------------------------------------------------

export const SignatureInvalidError = defineError('SIGNATURE_INVALID', 'integrity', 422,
  'The signature does not verify for its release, version and digest')
export const SignatureUntrustedError = defineError('SIGNATURE_UNTRUSTED', 'integrity', 422,
  'The signature was made by a key that is not among the trusted keys')
export const SignatureMissingError = defineError('SIGNATURE_MISSING', 'integrity', 422,
  'Trusted keys are configured but the release carries no signature')
export const SignatureSubjectMismatchError = defineError('SIGNATURE_SUBJECT_MISMATCH', 'integrity', 422,
  'The signature is for another release, version or digest than the one being checked')
export const SignatureFormatError = defineError('SIGNATURE_FORMAT', 'invalid', 400,
  'A signature file is not valid JSON of the signature schema')
export const KeyFormatError = defineError('KEY_FORMAT', 'invalid', 400,
  'A key file is not an ed25519 key in the expected format')

// ---- Launcher -------------------------------------------------------------------------------

export const SnapshotExistsError = defineError('SNAPSHOT_EXISTS', 'conflict', 409,
  'A snapshot or image with that key already exists')
export const SnapshotNotFoundError = defineError('SNAPSHOT_NOT_FOUND', 'not-found', 404,
  'No snapshot or image has that key')
export const SnapshotterUnavailableError = defineError('SNAPSHOTTER_UNAVAILABLE', 'io', 503,
  'The snapshotter cannot work here (not root, no btrfs file system, no overlay support)')
export const ReleaseNotActiveError = defineError('RELEASE_NOT_ACTIVE', 'not-found', 404,
  'The release has no current (or no previous) activation to act on')
export const LaunchFailedError = defineError('LAUNCH_FAILED', 'io', 500,
  'The container agent could not start the release or it exited with an error')
export const UnhealthyError = defineError('UNHEALTHY', 'io', 503,
  'The release started but failed its health check (the launch config\'s healthCheck) the configured number of times in a row')
export const CommandFailedError = defineError('COMMAND_FAILED', 'io', 500,
  'An external command (mount, btrfs, runc, cp) failed')

// ---- Swarm (seeder and fetcher) --------------------------------------------------------------

export const TorrentInvalidError = defineError('TORRENT_INVALID', 'integrity', 422,
  'A .torrent is malformed or does not describe one file with piece hashes')
export const PieceHashMismatchError = defineError('PIECE_HASH_MISMATCH', 'integrity', 422,
  'A piece received from a peer or web seed does not match its SHA-1 in the torrent; the data was thrown away')
export const PeerProtocolError = defineError('PEER_PROTOCOL_VIOLATION', 'integrity', 400,
  'A peer sent a message that breaks BEP 3 (bad request length, piece out of range, oversized message)')
export const TrackerUnreachableError = defineError('TRACKER_UNREACHABLE', 'io', 503,
  'The tracker could not be reached or answered with a server error; the host retries with backoff')
export const BundleUnavailableError = defineError('BUNDLE_UNAVAILABLE', 'io', 503,
  'No peer and no web seed could serve a missing piece within the time allowed')

// ---- Tracker and HTTP API -----------------------------------------------------------------

export const AuthMissingError = defineError('AUTH_MISSING', 'auth', 401,
  'The request carries no bearer token')
export const AuthInvalidError = defineError('AUTH_INVALID', 'auth', 401,
  'The bearer token is not one the server knows')
export const AuthForbiddenError = defineError('AUTH_FORBIDDEN', 'auth', 403,
  'The token is valid but its role may not do this')
export const StoreUnavailableError = defineError('STORE_UNAVAILABLE', 'io', 503,
  'The tracker cannot reach its store (PostgreSQL or Redis down or restarting); nothing was written, retry')
export const VersionConflictError = defineError('VERSION_CONFLICT', 'conflict', 409,
  'The release version exists with another digest; versions are immutable')
export const BundleConflictError = defineError('BUNDLE_CONFLICT', 'conflict', 409,
  'The bundle is registered with other torrent facts (infohash, size)')
export const NotFoundError = defineError('NOT_FOUND', 'not-found', 404,
  'No such bundle, release, version, channel, host or route')
export const RequestInvalidError = defineError('REQUEST_INVALID', 'invalid', 400,
  'The request does not match the route schema (the message names the field)')
export const TrackerRefusedError = defineError('TRACKER_REFUSED', 'io', 502,
  'The tracker refused or failed a registration a seeder or host sent it')
export const ResponseInvalidError = defineError('RESPONSE_INVALID', 'io', 502,
  'A server answered with something outside the wire contract (a malformed target, digest or torrent); it was not used')
export const LimitReachedError = defineError('LIMIT_REACHED', 'io', 429,
  'A bound the server keeps against runaway or hostile clients is full (hosts, event streams, connections); try later or raise it')
export const HostIdInUseError = defineError('HOST_ID_IN_USE', 'conflict', 409,
  'Another live fetcher already acts as this host id (two fetchers on one machine, or a copied data dir): give this one its own --host-id')
export const RolloutStateError = defineError('ROLLOUT_STATE', 'conflict', 409,
  'The rollout is not in a state that allows this (pause a running one, resume a paused one; a halted one stays halted) or has no plan')
export const TokensFileInvalidError = defineError('TOKENS_FILE_INVALID', 'invalid', 400,
  'The tokens file is not valid (one "role token [name]" per line)')

// ---- Names -----------------------------------------------------------------------------------

export const NameInvalidError = defineError('NAME_INVALID', 'invalid', 400,
  'A release, version, channel or host name has characters outside its allowed set')

// ---- Generic ---------------------------------------------------------------------------------

export const UsageError = defineError('USAGE', 'invalid', 400,
  'The command line is not valid')
export const FileNotFoundError = defineError('FILE_NOT_FOUND', 'not-found', 404,
  'A file or directory named on the command line or in configuration does not exist')
export const IoError = defineError('IO_FAILED', 'io', 500,
  'A file system operation failed')
export const DiskFullError = defineError('DISK_FULL', 'io', 507,
  'The disk is full (ENOSPC) or over quota (EDQUOT)')
export const AbortedError = defineError('ABORTED', 'io', 499,
  'The operation was cancelled')
export const RolloutFailedError = defineError('ROLLOUT_FAILED', 'io', 500,
  'A rollout ended with hosts failed (or halted by its failure threshold); the message names the code and hosts')
export const InternalError = defineError('INTERNAL', 'io', 500,
  'A bug: something failed that should not (the server or CLI log has the stack)')
export const RequestFailedError = defineError('REQUEST_FAILED', 'io', 502,
  'A server answered with an error that carries no Shoal code (a proxy, or another program on the port)')
export const SeederUnreachableError = defineError('SEEDER_UNREACHABLE', 'io', 503,
  'The seeder could not be reached or answered with a server error')

/**
 * The error a Shoal server's answer `{statusCode, code, message, details}` stands for: the
 * registered class of that code (so a client's error has the server's code, kind and exit code),
 * or REQUEST_FAILED when the code is not Shoal's.
 */
export function errorFromAnswer(status: number, body: { code?: unknown; message?: unknown; details?: unknown }, fallbackMessage: string): ShoalError {
  const message = typeof body.message === 'string' ? body.message : fallbackMessage
  const details = body.details && typeof body.details === 'object' ? (body.details as Record<string, unknown>) : {}
  const cls = typeof body.code === 'string' ? classes.get(body.code) : undefined
  if (cls) return new cls(message, { details })
  return new RequestFailedError(message, { details: { ...details, status, code: typeof body.code === 'string' ? body.code : undefined } })
}

/**
 * Turns a Node.js system error into the matching ShoalError so that callers see one vocabulary.
 * `action` completes the sentence "Cannot <action>".
 */
export function fromSystemError(err: unknown, action: string, path?: string): ShoalError {
  if (err instanceof ShoalError) return err
  const e = err as NodeJS.ErrnoException
  const details: Record<string, unknown> = {}
  if (path !== undefined) details.path = path
  if (e?.code) details.errno = e.code
  if (e?.name === 'AbortError' || e?.code === 'ABORT_ERR') {
    return new AbortedError(`Cannot ${action}: it was aborted`, { cause: err, details })
  }
  if (e?.code === 'ENOENT') {
    return new FileNotFoundError(`Cannot ${action}: ${path ?? 'the file'} does not exist`, { cause: err, details })
  }
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT') {
    return new DiskFullError(`Cannot ${action}: the disk is full${path ? ` (at ${path})` : ''}`, { cause: err, details })
  }
  return new IoError(`Cannot ${action}: ${e?.message ?? String(err)}`, { cause: err, details })
}

/**
 * The error an HTTP API answers with, for anything a handler throws: ShoalErrors as they are,
 * schema failures as REQUEST_INVALID (400), fastify's own 4xx (bad JSON, wrong content type,
 * body too large) as REQUEST_INVALID with their status, anything else as INTERNAL (500) with
 * `internal` set so the caller logs it.
 */
export function httpErrorFrom(err: unknown): { error: ShoalError; internal: boolean } {
  if (err instanceof ShoalError) return { error: err, internal: false }
  const e = err as { validation?: unknown; validationContext?: string; message?: string; statusCode?: number }
  if (e?.validation) {
    return { error: new RequestInvalidError(`Cannot accept request: ${e.validationContext ?? 'request'} ${e.message ?? ''}`.trim()), internal: false }
  }
  if (e?.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    return { error: new ShoalError('REQUEST_INVALID', 'invalid', e.statusCode, `Cannot accept request: ${e.message}`), internal: false }
  }
  return { error: new InternalError('Cannot complete request: internal error (see the server log)'), internal: true }
}
