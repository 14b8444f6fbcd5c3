/** Wire contract of a rollout's status: what the tracker serves and the CLI and dashboard render. */
import { Type, type Static } from '@sinclair/typebox'
import { LATER_STATES, STATUS_STATES, type HostState } from '../rollout.js'
import { TimestampSchema } from './common.js'

const count = Type.Integer({ minimum: 0 })
// States added later are optional: a tracker from before them still answers in the contract.
const stateCounts = Type.Object(Object.fromEntries(STATUS_STATES.map((s) => [s, LATER_STATES.includes(s) ? Type.Optional(count) : count])) as Record<HostState | 'lost', typeof count>)

// ---- Plans: waves, gates, progress ----------------------------------------------------------

/** A wave's cumulative size: a host count (`1`, `20`) or a share of the hosts (`10%`). */
export const WaveSizeSchema = Type.String({ pattern: '^(?:[1-9][0-9]{0,6}|(?:100|[1-9]?[0-9](?:\\.[0-9]{1,2})?)%)$', maxLength: 10 })
/** A bound given as a count (`2`) or a share (`5%`). */
export const ShareSchema = Type.String({ pattern: '^(?:[0-9]{1,7}|(?:100|[1-9]?[0-9](?:\\.[0-9]{1,2})?)%)$', maxLength: 10 })

/**
 * How a rollout activates: cumulative wave sizes, the fault-domain label spread across, how many
 * hosts of one domain may be out of service at once, the bake time, the failure threshold that
 * halts it, and whether a halt rolls the activated hosts back.
 */
export const RolloutGatesSchema = Type.Object(
  {
    waves: Type.Array(WaveSizeSchema, { minItems: 1, maxItems: 20 }),
    by: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_.-]{0,62}$' })),
    maxUnavailable: ShareSchema,
    bakeSeconds: Type.Integer({ minimum: 0, maximum: 7 * 86_400 }),
    haltAfter: ShareSchema,
    autoRollback: Type.Boolean(),
  },
  { additionalProperties: false },
)
export type RolloutGates = Static<typeof RolloutGatesSchema>
/** `shoal rollout start`'s defaults: a canary, 10%, half, all; a tenth of a domain at a time; a minute's bake; halt at the first failure. */
export const DEFAULT_GATES: RolloutGates = { waves: ['1', '10%', '50%', '100%'], maxUnavailable: '10%', bakeSeconds: 60, haltAfter: '1', autoRollback: false }

/** POST /v1/rollouts/:release/:channel: move the channel to `version` under a plan (or only show the plan). */
export const RolloutStartSchema = Type.Object(
  {
    version: Type.String({ maxLength: 128 }),
    gates: RolloutGatesSchema,
    dryRun: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)
export type RolloutStart = Static<typeof RolloutStartSchema>

/** One wave of a plan as shown: its hosts per fault domain, how many activation batches, a few host ids. */
export const WaveSummarySchema = Type.Object({
  hosts: count,
  batches: count,
  byDomain: Type.Record(Type.String(), count),
  sample: Type.Array(Type.String(), { maxItems: 20 }),
})
export const PlanSummarySchema = Type.Object({ hosts: count, domains: count, gates: RolloutGatesSchema, waves: Type.Array(WaveSummarySchema) })
export type PlanSummary = Static<typeof PlanSummarySchema>

export const ROLLOUT_STATES = ['running', 'paused', 'halted', 'aborted', 'done'] as const
export type RolloutState = (typeof ROLLOUT_STATES)[number]

/** One thing that happened to a rollout: a wave opened, a halt, a pause by someone. */
export const RolloutEventSchema = Type.Object({ at: TimestampSchema, what: Type.String({ maxLength: 40 }), by: Type.String({ maxLength: 200 }), detail: Type.Optional(Type.String({ maxLength: 2000 })) })
export type RolloutEvent = Static<typeof RolloutEventSchema>

/**
 * Where a planned rollout stands, stored with its rollout record: the open wave and activation
 * batch (0-based), when the bake of a finished wave ends, why it halted, whether the activated
 * hosts were sent back to the previous version, and what happened (the last 50 events).
 */
export const RolloutProgressSchema = Type.Object({
  rev: count,
  state: Type.Union(ROLLOUT_STATES.map((s) => Type.Literal(s))),
  rolledBack: Type.Boolean(),
  wave: count,
  batch: count,
  bakeUntil: Type.Union([TimestampSchema, Type.Null()]),
  reason: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]),
  events: Type.Array(RolloutEventSchema, { maxItems: 50 }),
})
export type RolloutProgress = Static<typeof RolloutProgressSchema>

/** A plan as the status shows it: per wave its size and how its hosts stand. */
export const RolloutPlanViewSchema = Type.Object(
  {
    gates: RolloutGatesSchema,
    progress: RolloutProgressSchema,
    fromVersion: Type.Union([Type.String(), Type.Null()]),
    waves: Type.Array(Type.Object({ hosts: count, batches: count, running: count, failed: count, state: Type.Union([Type.Literal('waiting'), Type.Literal('open'), Type.Literal('baking'), Type.Literal('done'), Type.Literal('halted')]) })),
  },
)
export type RolloutPlanView = Static<typeof RolloutPlanViewSchema>

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
  /**
   * Hosts running over time, from the tracker's record (each host's first running report): at
   * most 60 points [seconds since the move, hosts running by then], so a page opened after the
   * rollout still draws the curve.
   */
  runningCurve: Type.Optional(Type.Array(Type.Tuple([Type.Number({ minimum: 0 }), count]), { maxItems: 60 })),
  timeToRunningSeconds: Type.Object({ p50: Type.Union([Type.Number(), Type.Null()]), p90: Type.Union([Type.Number(), Type.Null()]), max: Type.Union([Type.Number(), Type.Null()]) }),
  stragglers: Type.Array(Type.Object({ host: Type.String(), state: Type.Union(STATUS_STATES.map((s) => Type.Literal(s))), bytesDone: count, lastReportAt: Type.Union([Type.String(), Type.Null()]) })),
  /** The most frequent failure codes (at most 20), each with a few example hosts. */
  failures: Type.Array(Type.Object({ code: Type.String(), count, exampleHosts: Type.Array(Type.String()) })),
  /** Failures under codes left out of `failures` (the list is bounded whatever hosts report). */
  otherFailures: Type.Object({ codes: count, hosts: count }),
  bytesFromPeers: Type.Number({ minimum: 0 }),
  bytesFromOrigin: Type.Number({ minimum: 0 }),
  /** Bytes hosts derived from content they already held (incremental releases) instead of fetching. */
  bytesDerived: Type.Optional(Type.Number({ minimum: 0 })),
  /** Share of bytes that came from peers rather than the origin (0..1), null before any bytes. */
  originOffload: Type.Union([Type.Number(), Type.Null()]),
  /** The rollout's plan and where it stands; null for a plain move (one wave, no gates). */
  plan: Type.Optional(Type.Union([RolloutPlanViewSchema, Type.Null()])),
})


export type RolloutStatus = Static<typeof RolloutStatusSchema> & { byState: Record<HostState, number> & { lost?: number }; plan?: RolloutPlanView | null }
