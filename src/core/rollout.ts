/**
 * Where a host stands with a target: the states every report carries (ARCHITECTURE "Host state
 * per target"). The rollout status built from them is in wire/rollouts.ts.
 */
export type HostState = 'pending' | 'downloading' | 'verifying' | 'unpacking' | 'launching' | 'running' | 'failed'
export const HOST_STATES: readonly HostState[] = ['pending', 'downloading', 'verifying', 'unpacking', 'launching', 'running', 'failed']

