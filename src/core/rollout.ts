/**
 * Where a host stands with a target: the states every report carries (ARCHITECTURE "Host state
 * per target"). The rollout status built from them is in wire/rollouts.ts.
 */
export type HostState = 'pending' | 'downloading' | 'verifying' | 'unpacking' | 'staged' | 'launching' | 'running' | 'unhealthy' | 'failed'
export const HOST_STATES: readonly HostState[] = ['pending', 'downloading', 'verifying', 'unpacking', 'staged', 'launching', 'running', 'unhealthy', 'failed']
/**
 * States added after the first wire contract: a status may leave them out (an older tracker
 * answers without them), so clients read them as 0 when absent.
 */
export const LATER_STATES: readonly string[] = ['staged', 'unhealthy', 'lost']
/** States in which a host is not serving the target and counts against a wave's failure threshold. */
export const FAILED_STATES: readonly string[] = ['failed', 'unhealthy', 'lost']
/**
 * What a rollout's status counts a host as: its reported state, or `lost` when the tracker has
 * not heard from it (no targets long-poll) for the tracker's --lost-after, whatever it last said
 * (except failed). Never reported by a host.
 */
export type StatusState = HostState | 'lost'
export const STATUS_STATES: readonly StatusState[] = [...HOST_STATES, 'lost']

