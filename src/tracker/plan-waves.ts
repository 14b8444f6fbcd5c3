import { createHash } from 'node:crypto'
import { FAILED_STATES, type PlanSummary, type RolloutEvent, type RolloutGates, type RolloutPlanView, type RolloutProgress, type StatusState } from '../core/index.js'

/**
 * Rollout plans, pure: which hosts activate in which wave and batch, how a plan advances on the
 * hosts' states, and what each host is told to do. The tracker stores the plan with the rollout
 * and drives it (rollout-driver.ts); nothing here reads a clock or a store.
 */

/** A planned rollout's activation order: wave -> batch -> host ids. */
export interface RolloutPlan {
  gates: RolloutGates
  waves: string[][][]
}

/** What a host does with a planned rollout's channel: run the new version, stage it and keep the old, or run the old one. */
export type TargetMode = 'new' | 'stage' | 'old'

export { DEFAULT_GATES } from '../core/index.js'

/** `10%` of n rounded up (at least 1 when n > 0), or a count; capped at n. */
function sizeOf(spec: string, n: number): number {
  if (spec.endsWith('%')) return Math.min(n, Math.ceil((n * Number(spec.slice(0, -1))) / 100 - 1e-9))
  return Math.min(n, Number(spec))
}

/** How many hosts of a domain of n may be out of service at once: a share rounded down, but never less than 1. */
export function unavailableCap(spec: string, n: number): number {
  const v = spec.endsWith('%') ? Math.floor((n * Number(spec.slice(0, -1))) / 100 + 1e-9) : Number(spec)
  return Math.max(1, v)
}

/** How many failures in a wave of n halt the rollout: a count, or a share rounded up (at least 1). */
export function haltThreshold(spec: string, n: number): number {
  const v = spec.endsWith('%') ? Math.ceil((n * Number(spec.slice(0, -1))) / 100 - 1e-9) : Number(spec)
  return Math.max(1, v)
}

const rank = (seed: string, id: string): string => createHash('sha256').update(seed).update('\0').update(id).digest('hex')

/**
 * The plan: hosts grouped by their `by` label (one domain without it), each domain shuffled by a
 * hash of `seed` (the target digest: the same inputs always give the same plan, and each release
 * picks other canaries) and interleaved by relative position, so every prefix of the order, and so
 * every wave, holds each domain in proportion. Waves are cumulative prefixes; a last wave takes
 * whatever the sizes left. Inside a wave, batch k of a domain is its hosts k*cap .. (k+1)*cap-1,
 * with cap its max-unavailable, so no batch takes more of a domain out of service than allowed.
 */
export function planWaves(hosts: ReadonlyArray<{ id: string; labels: Record<string, string> }>, gates: RolloutGates, seed: string): RolloutPlan {
  const domainOf = (h: { labels: Record<string, string> }): string => (gates.by ? (h.labels[gates.by] ?? '(none)') : '*')
  const domains = new Map<string, string[]>()
  for (const h of hosts) {
    const d = domainOf(h)
    if (!domains.has(d)) domains.set(d, [])
    domains.get(d)!.push(h.id)
  }
  const keyed: Array<{ id: string; domain: string; key: number; r: string }> = []
  for (const [domain, ids] of domains) {
    const sorted = ids.map((id) => ({ id, r: rank(seed, id) })).sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0))
    sorted.forEach((x, i) => keyed.push({ id: x.id, domain, key: (i + 0.5) / sorted.length, r: x.r }))
  }
  keyed.sort((a, b) => a.key - b.key || (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0) || (a.r < b.r ? -1 : 1))
  const n = keyed.length
  const cuts: number[] = []
  for (const spec of gates.waves) {
    const c = Math.max(sizeOf(spec, n), cuts.at(-1) ?? 0)
    if (c > (cuts.at(-1) ?? 0)) cuts.push(c)
  }
  if ((cuts.at(-1) ?? 0) < n) cuts.push(n)
  const sizes = new Map([...domains].map(([d, ids]) => [d, ids.length]))
  const waves: string[][][] = []
  let from = 0
  for (const to of cuts) {
    const inWave = new Map<string, number>()
    const batches: string[][] = []
    for (const h of keyed.slice(from, to)) {
      const k = inWave.get(h.domain) ?? 0
      inWave.set(h.domain, k + 1)
      const b = Math.floor(k / unavailableCap(gates.maxUnavailable, sizes.get(h.domain)!))
      while (batches.length <= b) batches.push([])
      batches[b]!.push(h.id)
    }
    waves.push(batches)
    from = to
  }
  return { gates, waves }
}

/** The plan as shown before it starts (`--dry-run`) and when it starts. */
export function summarizePlan(plan: RolloutPlan, hosts: ReadonlyArray<{ id: string; labels: Record<string, string> }>): PlanSummary {
  const by = plan.gates.by
  const labelOf = new Map(hosts.map((h) => [h.id, by ? (h.labels[by] ?? '(none)') : '*']))
  return {
    hosts: hosts.length,
    domains: new Set(labelOf.values()).size,
    gates: plan.gates,
    waves: plan.waves.map((batches) => {
      const ids = batches.flat()
      const byDomain: Record<string, number> = {}
      for (const id of ids) byDomain[labelOf.get(id) ?? '(none)'] = (byDomain[labelOf.get(id) ?? '(none)'] ?? 0) + 1
      return { hosts: ids.length, batches: batches.length, byDomain, sample: ids.slice(0, 20) }
    }),
  }
}

/** Host id -> [wave, batch] of a plan. */
export function indexPlan(plan: RolloutPlan): Map<string, [number, number]> {
  const at = new Map<string, [number, number]>()
  plan.waves.forEach((batches, w) => batches.forEach((ids, b) => ids.forEach((id) => at.set(id, [w, b]))))
  return at
}

export function startProgress(at: string, by: string, summary: string): RolloutProgress {
  return { rev: 0, state: 'running', rolledBack: false, wave: 0, batch: 0, bakeUntil: null, reason: null, events: [{ at, what: 'started', by, detail: summary }] }
}

/** Appends an event, keeping the last 50. */
export function withEvent(p: RolloutProgress, e: RolloutEvent, change: Partial<RolloutProgress>): RolloutProgress {
  return { ...p, ...change, rev: p.rev + 1, events: [...p.events, e].slice(-50) }
}

/**
 * What a host does: `new` once its batch has opened (or the rollout is done, or the host is not in
 * the plan and there is nothing before it), `stage` until then (download and unpack, keep running
 * the previous version), `old` after a rollback or for a host outside the plan while it runs.
 */
export function targetMode(at: [number, number] | undefined, p: RolloutProgress, hasPrevious: boolean): TargetMode {
  if (p.rolledBack && hasPrevious) return 'old'
  if (p.state === 'done') return 'new'
  if (!at) return hasPrevious ? 'old' : 'new'
  const [w, b] = at
  if (w < p.wave || (w === p.wave && b <= p.batch)) return 'new'
  return 'stage'
}

/** Whether a host in this state is done with its batch (healthy, or counted as a failure). */
const settled = (s: StatusState | undefined): boolean => s === undefined || s === 'running' || FAILED_STATES.includes(s)

/**
 * One step of a running plan on the hosts' states for the new version (`undefined`: the host left
 * the plan, deleted or no longer following): halt when the open wave's failures reach
 * --halt-after; open the next batch once every host of the open one runs healthy or failed; after
 * the wave's last batch, bake; after the bake, open the next wave; after the last, done. Returns
 * the new progress, or undefined when nothing changes.
 */
export function advancePlan(
  plan: RolloutPlan,
  p: RolloutProgress,
  stateOf: (host: string) => { state: StatusState; code?: string } | undefined,
  nowMs: number,
  hasPrevious: boolean,
): RolloutProgress | undefined {
  if (p.state !== 'running') return undefined
  const at = new Date(nowMs).toISOString()
  const wave = plan.waves[p.wave]
  if (!wave) return withEvent(p, { at, what: 'done', by: 'tracker' }, { state: 'done' })
  const ids = wave.flat()
  const failed = ids.flatMap((id) => {
    const s = stateOf(id)
    return s && FAILED_STATES.includes(s.state) ? [`${id} (${s.state === 'lost' ? 'lost' : (s.code ?? s.state.toUpperCase())})`] : []
  })
  const threshold = haltThreshold(plan.gates.haltAfter, ids.length)
  if (failed.length >= threshold) {
    const rollBack = plan.gates.autoRollback && hasPrevious
    const reason = `${failed.length} of ${ids.length} hosts in wave ${p.wave + 1} failed (halt after ${plan.gates.haltAfter}): ${failed.slice(0, 10).join(', ')}${failed.length > 10 ? ', ...' : ''}${rollBack ? '; activated hosts rolled back' : ''}`
    return withEvent(p, { at, what: rollBack ? 'halted, rolled back' : 'halted', by: 'tracker', detail: reason }, { state: 'halted', rolledBack: rollBack, reason, bakeUntil: null })
  }
  if (!wave[p.batch]!.every((id) => settled(stateOf(id)?.state))) return undefined
  if (p.batch < wave.length - 1) return { ...p, rev: p.rev + 1, batch: p.batch + 1 }
  if (p.bakeUntil === null && plan.gates.bakeSeconds > 0) {
    return withEvent(p, { at, what: 'baking', by: 'tracker', detail: `wave ${p.wave + 1} of ${plan.waves.length} up; baking ${plan.gates.bakeSeconds} s` }, { bakeUntil: new Date(nowMs + plan.gates.bakeSeconds * 1000).toISOString() })
  }
  if (p.bakeUntil !== null && nowMs < Date.parse(p.bakeUntil)) return undefined
  if (p.wave + 1 < plan.waves.length) {
    return withEvent(p, { at, what: 'wave opened', by: 'tracker', detail: `wave ${p.wave + 2} of ${plan.waves.length} (${plan.waves[p.wave + 1]!.flat().length} hosts)` }, { wave: p.wave + 1, batch: 0, bakeUntil: null })
  }
  return withEvent(p, { at, what: 'done', by: 'tracker', detail: `all ${plan.waves.length} waves up` }, { state: 'done', bakeUntil: null })
}

/** The plan as the status shows it. */
export function viewPlan(plan: RolloutPlan, p: RolloutProgress, fromVersion: string | null, stateOf: (host: string) => StatusState | undefined): RolloutPlanView {
  return {
    gates: plan.gates,
    progress: p,
    fromVersion,
    waves: plan.waves.map((batches, w) => {
      const ids = batches.flat()
      const states = ids.map(stateOf)
      const state =
        p.state === 'done' || w < p.wave ? 'done' : w > p.wave ? 'waiting' : p.state === 'halted' || p.state === 'aborted' ? 'halted' : p.bakeUntil !== null ? 'baking' : 'open'
      return { hosts: ids.length, batches: batches.length, running: states.filter((s) => s === 'running').length, failed: states.filter((s) => s !== undefined && FAILED_STATES.includes(s)).length, state }
    }),
  }
}
