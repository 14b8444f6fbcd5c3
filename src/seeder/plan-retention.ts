import type { Digest } from '../core/index.js'

export interface RetentionCandidate {
  digest: Digest
  /** When the bundle was stored (ms since the epoch). */
  storedAt: number
}

/**
 * Which stored bundles may go: those the tracker's retention set (every channel target plus the
 * last K versions of each release) does not list, once older than `graceMs` — a bundle uploaded
 * a moment ago may not be registered as a version yet. Pure; the sweep does the I/O.
 */
export function planRetention(stored: readonly RetentionCandidate[], keep: ReadonlySet<string>, now: number, graceMs: number): Digest[] {
  return stored.filter((b) => !keep.has(b.digest) && now - b.storedAt >= graceMs).map((b) => b.digest)
}
