import type { Digest } from './digest.js'

/** A verified-or-to-be-verified bundle on the host and the release it is a version of. */
export interface BundleToRun {
  /** The bundle file. */
  path: string
  digest: Digest
  release: string
  version: string
}

/**
 * What a host does with a bundle it fetched, in two steps: stage (verify and unpack, ready to
 * start: the host's `staged` state) and activate (stop the release's running version, start this
 * one). The fetcher drives it; the launcher implements it (createHandOff in src/launcher). The
 * contract lives here because parts meet only through core.
 */
export interface HandOff {
  /**
   * Verifies the bundle against its digest while unpacking it, and keeps it ready. `verified`
   * says whether this call hashed the bytes (false when the image was already installed: the
   * caller then checks the file itself before keeping it).
   */
  stage(bundle: BundleToRun, onState: (state: 'unpacking') => void): Promise<{ verified: boolean }>
  /**
   * Makes a staged bundle the release's current one and starts it. Resolves once it runs and, when
   * its launch config has a health check, has passed it (UNHEALTHY when it cannot pass it within
   * `retries` intervals). Afterwards `onHealth` hears each change: unhealthy (with the reason),
   * healthy again, or failed for good (the agent gave up restarting it). `signal` abandons an
   * activation that is no longer wanted (another version was asked for meanwhile).
   */
  activate(bundle: BundleToRun, onState: (state: 'launching') => void, options?: { signal?: AbortSignal; onHealth?: (h: HealthChange) => void }): Promise<void>
  /** Stops everything it started. */
  stopAll(): Promise<void>
}

/** A running release's health after its activation: healthy, failing its health check, or stopped for good. */
export type HealthChange = { state: 'running' } | { state: 'unhealthy' | 'failed'; code: string; message: string }
