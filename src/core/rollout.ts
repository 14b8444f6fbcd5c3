/**
 * Where a host stands with a target: the states every report carries (ARCHITECTURE "Host state
 * per target"). The rollout status built from them is in wire/rollouts.ts.
 */
export type HostState = 'pending' | 'downloading' | 'verifying' | 'unpacking' | 'launching' | 'running' | 'failed'
export const HOST_STATES: readonly HostState[] = ['pending', 'downloading', 'verifying', 'unpacking', 'launching', 'running', 'failed']
/**
 * What a rollout's status counts a host as: its reported state, or `lost` when the tracker has
 * not heard from it (no targets long-poll) for the tracker's --lost-after, whatever it last said
 * (except failed). Never reported by a host.
 */
export type StatusState = HostState | 'lost'
export const STATUS_STATES: readonly StatusState[] = [...HOST_STATES, 'lost']

