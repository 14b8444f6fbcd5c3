import type { Digest, LaunchConfig } from '../core/index.js'

/** What an agent is told about the release it starts. */
export interface LaunchContext {
  /** Unique id of this activation (used for container names). */
  id: string
  rootfs: string
  release: string
  version: string
  digest: Digest
  launch?: LaunchConfig
  /** Where the agent may keep its files (OCI bundle, logs). */
  stateDir: string
}

export interface RunningRelease {
  /** Settles when the release stops for good: exit code 0, or a ShoalError. */
  readonly done: Promise<{ exitCode: number }>
  /** Stops it (SIGTERM, then SIGKILL after a grace period). Idempotent. */
  stop(): Promise<void>
  /** Present when the release has a health check the agent runs. */
  readonly health?: ReleaseHealth
}

/** What an agent's health check says: first healthy (or UNHEALTHY), then each change. */
export interface ReleaseHealth {
  /** Resolves at the first passed check; rejects with UNHEALTHY when none passed within `retries` intervals, or with the release's failure. */
  readonly ready: Promise<void>
  /** Each change after the first: false with the reason when it fails `retries` checks in a row, true when it passes again. */
  onChange(listener: (healthy: boolean, reason: string) => void): void
}

export type AgentName = 'process' | 'exec' | 'oci'
export const AGENT_NAMES: readonly AgentName[] = ['process', 'exec', 'oci']

/** Hands a root filesystem to whatever runs containers on this host. */
export interface Agent {
  readonly name: AgentName
  start(context: LaunchContext): Promise<RunningRelease>
}

/** Release facts every agent passes to what it starts. */
export function releaseEnv(ctx: LaunchContext): Record<string, string> {
  return {
    SHOAL_ROOTFS: ctx.rootfs,
    SHOAL_RELEASE: ctx.release,
    SHOAL_VERSION: ctx.version,
    SHOAL_DIGEST: ctx.digest,
    SHOAL_ACTIVATION: ctx.id,
  }
}
