/**
 * The wire contract for where a host and a rollout stand: the host states every report carries
 * (ARCHITECTURE "Host state per target") and the rollout status the tracker serves, which the
 * CLI and the dashboard render.
 */
export type HostState = 'pending' | 'downloading' | 'verifying' | 'unpacking' | 'launching' | 'running' | 'failed'
export const HOST_STATES: readonly HostState[] = ['pending', 'downloading', 'verifying', 'unpacking', 'launching', 'running', 'failed']

export interface RolloutStatus {
  release: string
  channel: string
  version: string
  digest: string
  rolloutId: string
  movedBy: string
  movedAt: string
  hosts: number
  byState: Record<HostState, number>
  percentRunning: number
  timeToRunningSeconds: { p50: number | null; p90: number | null; max: number | null }
  stragglers: Array<{ host: string; state: HostState; bytesDone: number; lastReportAt: string | null }>
  /** The most frequent failure codes (at most 20), each with a few example hosts. */
  failures: Array<{ code: string; count: number; exampleHosts: string[] }>
  /** Failures under codes left out of `failures` (the list is bounded whatever hosts report). */
  otherFailures: { codes: number; hosts: number }
  bytesFromPeers: number
  bytesFromOrigin: number
  /** Share of bytes that came from peers rather than the origin (0..1), null before any bytes. */
  originOffload: number | null
}
