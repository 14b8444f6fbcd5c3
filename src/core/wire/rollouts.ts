/** Wire contract of a rollout's status: what the tracker serves and the CLI and dashboard render. */
import { Type, type Static } from '@sinclair/typebox'
import { HOST_STATES, STATUS_STATES, type HostState } from '../rollout.js'

const count = Type.Integer({ minimum: 0 })
// `lost` is optional: a tracker from before it still answers in the contract.
const stateCounts = Type.Object({ ...(Object.fromEntries(HOST_STATES.map((s) => [s, count])) as Record<HostState, typeof count>), lost: Type.Optional(count) })

export const RolloutStatusSchema = Type.Object({
  release: Type.String(),
  channel: Type.String(),
  version: Type.String(),
  digest: Type.String(),
  rolloutId: Type.String(),
  movedBy: Type.String(),
  movedAt: Type.String(),
  hosts: count,
  byState: stateCounts,
  percentRunning: Type.Number({ minimum: 0, maximum: 100 }),
  timeToRunningSeconds: Type.Object({ p50: Type.Union([Type.Number(), Type.Null()]), p90: Type.Union([Type.Number(), Type.Null()]), max: Type.Union([Type.Number(), Type.Null()]) }),
  stragglers: Type.Array(Type.Object({ host: Type.String(), state: Type.Union(STATUS_STATES.map((s) => Type.Literal(s))), bytesDone: count, lastReportAt: Type.Union([Type.String(), Type.Null()]) })),
  /** The most frequent failure codes (at most 20), each with a few example hosts. */
  failures: Type.Array(Type.Object({ code: Type.String(), count, exampleHosts: Type.Array(Type.String()) })),
  /** Failures under codes left out of `failures` (the list is bounded whatever hosts report). */
  otherFailures: Type.Object({ codes: count, hosts: count }),
  bytesFromPeers: Type.Number({ minimum: 0 }),
  bytesFromOrigin: Type.Number({ minimum: 0 }),
  /** Share of bytes that came from peers rather than the origin (0..1), null before any bytes. */
  originOffload: Type.Union([Type.Number(), Type.Null()]),
})
export type RolloutStatus = Static<typeof RolloutStatusSchema> & { byState: Record<HostState, number> & { lost?: number } }
