import { RolloutStateError, type Digest, type RolloutPlanView, type RolloutProgress, type StatusState } from '../core/index.js'
import { advancePlan, indexPlan, viewPlan, withEvent, type RolloutPlan } from './plan-waves.js'
import type { ChannelRecord, RolloutRecord, TrackerStore } from './tracker-store.js'

/** A channel's planned rollout as the driver holds it: the record, and host id -> [wave, batch]. */
export interface PlannedRollout {
  record: RolloutRecord & { plan: RolloutPlan; progress: RolloutProgress }
  index: Map<string, [number, number]>
}

export type RolloutControl = 'pause' | 'resume' | 'abort'

/** How long a rollout read stays good without a change notice (a lost NOTIFY costs at most this). */
const CACHE_MS = 1_000

export interface RolloutDriver {
  /** The channel's current rollout when it has a plan (cached; re-read after `changed`). */
  planned(ch: Pick<ChannelRecord, 'release' | 'channel' | 'rolloutId'>): Promise<PlannedRollout | undefined>
  /** The channel's rollout changed (a move, a step written by another replica): drop what is cached. */
  changed(release: string, channel: string): void
  /** Steps every running plan once (see advancePlan); called every second and soon after reports. */
  tick(): Promise<void>
  /** Asks for a tick within ~100 ms (a report came in). */
  poke(): void
  /** The plan view for a channel's status; null for a plain move. */
  view(ch: Pick<ChannelRecord, 'release' | 'channel' | 'rolloutId'>): Promise<RolloutPlanView | null>
  /** pause / resume / abort by a person (recorded in the rollout's events). */
  control(release: string, channel: string, action: RolloutControl, by: string): Promise<RolloutRecord>
  stop(): void
}

/**
 * Drives planned rollouts on the tracker: steps each running plan on the hosts' reports (lost
 * hosts count as failed), writes each step with a compare-and-set on the progress revision (so
 * replicas sharing a store may all drive: one step wins, the others re-read), and tells the
 * targets long-polls and status streams. Every state it keeps in memory is a cache of the store:
 * a tracker killed mid-rollout continues from the stored plan and progress.
 */
export function createRolloutDriver(
  store: TrackerStore,
  components: { isLost: (host: string) => boolean; onStep: (release: string, channel: string) => void; now?: () => number; log?: (msg: string, fields: Record<string, unknown>) => void },
): RolloutDriver {
  const now = components.now ?? Date.now
  // release@channel -> the rollout read for one rollout id (null: a plain move), and when. An entry
  // answers only for its own rollout id, and only for CACHE_MS: a step written by another replica
  // is seen within that even if its notification is lost.
  const cached = new Map<string, { id: string; at: number; value: PlannedRollout | null }>()
  const generation = new Map<string, number>() // release@channel -> changes seen (bounded by channels)
  const indexes = new Map<string, Map<string, [number, number]>>() // rollout id -> index (plans never change)
  let ticking = false
  let poked: NodeJS.Timeout | undefined
  let stopped = false

  const planned = async (ch: Pick<ChannelRecord, 'release' | 'channel' | 'rolloutId'>): Promise<PlannedRollout | undefined> => {
    const key = `${ch.release}@${ch.channel}`
    const hit = cached.get(key)
    if (hit && hit.id === ch.rolloutId && now() - hit.at < CACHE_MS) return hit.value ?? undefined
    const at = now()
    const gen = generation.get(key) ?? 0
    const record = await store.getRollout(ch.release, ch.channel, ch.rolloutId)
    let value: PlannedRollout | null = null
    if (record?.plan && record.progress) {
      let index = indexes.get(record.id)
      if (!index) {
        if (indexes.size >= 64) indexes.clear()
        index = indexPlan(record.plan)
        indexes.set(record.id, index)
      }
      value = { record: record as PlannedRollout['record'], index }
    }
    // A read that raced a change (changed() was called meanwhile) is used once, never kept.
    if ((generation.get(key) ?? 0) === gen) cached.set(key, { id: ch.rolloutId, at, value })
    return value ?? undefined
  }

  /** Each planned host's state for the new version (undefined: no longer registered or following). */
  const statesOf = async (r: PlannedRollout): Promise<(host: string) => { state: StatusState; code?: string } | undefined> => {
    const follow = `${r.record.release}@${r.record.channel}`
    const following = new Set((await store.listHosts()).filter((h) => h.follows.includes(follow)).map((h) => h.id))
    const reports = new Map((await store.reportsFor(r.record.digest as Digest)).map((x) => [x.hostId, x]))
    return (host) => {
      if (!following.has(host)) return undefined
      const rep = reports.get(host)
      const reported = rep?.state ?? 'pending'
      if (reported !== 'failed' && components.isLost(host)) return { state: 'lost' }
      return { state: reported, ...(rep?.errorCode ? { code: rep.errorCode } : {}) }
    }
  }

  /** Forgets a channel's cached rollout; a read under way when this runs is not kept. */
  const drop = (release: string, channel: string): void => {
    const key = `${release}@${channel}`
    cached.delete(key)
    generation.set(key, (generation.get(key) ?? 0) + 1)
  }

  const write = async (r: PlannedRollout, next: RolloutProgress): Promise<boolean> => {
    const { release, channel, id } = r.record
    const ok = await store.setProgress(release, channel, id, next, r.record.progress.rev)
    drop(release, channel)
    if (ok) {
      if (next.events.length && next.events.at(-1) !== r.record.progress.events.at(-1)) components.log?.('rollout step', { rollout: id, ...next.events.at(-1) })
      components.onStep(release, channel)
    }
    return ok
  }

  const tick = async (): Promise<void> => {
    if (ticking || stopped) return
    ticking = true
    try {
      for (const ch of await store.listChannels()) {
        const r = await planned(ch)
        if (!r || r.record.progress.state !== 'running') continue
        const stateOf = await statesOf(r)
        const next = advancePlan(r.record.plan, r.record.progress, stateOf, now(), r.record.fromDigest != null)
        if (next) await write(r, next)
      }
    } finally {
      ticking = false
    }
  }

  const views = new Map<string, { rev: number; at: number; view: RolloutPlanView }>()

  return {
    planned,
    changed: drop,
    tick,
    poke() {
      if (poked || stopped) return
      poked = setTimeout(() => {
        poked = undefined
        tick().catch((err: unknown) => components.log?.('rollout tick failed', { message: (err as Error).message }))
      }, 100)
      poked.unref()
    },
    async view(ch) {
      const r = await planned(ch)
      if (!r) return null
      const v = views.get(r.record.id)
      if (v && v.rev === r.record.progress.rev && now() - v.at < 500) return v.view
      const stateOf = await statesOf(r)
      const view = viewPlan(r.record.plan, r.record.progress, r.record.fromVersion, (h) => stateOf(h)?.state)
      if (views.size >= 64) views.clear()
      views.set(r.record.id, { rev: r.record.progress.rev, at: now(), view })
      return view
    },
    async control(release, channel, action, by) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const ch = await store.getChannel(release, channel)
        const r = ch ? await planned(ch) : undefined
        if (!ch || !r) throw new RolloutStateError(`Cannot ${action} ${release}@${channel}: its current rollout${ch ? ` (${ch.rolloutId})` : ''} has no plan (a plain move is one wave with no gates; use undo to move it back)`)
        const p = r.record.progress
        const at = new Date(now()).toISOString()
        let next: RolloutProgress
        if (action === 'pause') {
          if (p.state !== 'running') throw new RolloutStateError(`Cannot pause ${r.record.id}: it is ${p.state}`, { details: { state: p.state } })
          next = withEvent(p, { at, what: 'paused', by }, { state: 'paused' })
        } else if (action === 'resume') {
          if (p.state !== 'paused') throw new RolloutStateError(`Cannot resume ${r.record.id}: it is ${p.state}${p.state === 'halted' ? ' (a halted rollout stays halted: abort it, undo it, or move the channel to a fixed version)' : ''}`, { details: { state: p.state } })
          next = withEvent(p, { at, what: 'resumed', by }, { state: 'running' })
        } else {
          if (p.state === 'done' || p.state === 'aborted') throw new RolloutStateError(`Cannot abort ${r.record.id}: it is ${p.state}${p.state === 'done' ? ' (undo moves the channel back)' : ''}`, { details: { state: p.state } })
          const back = r.record.fromDigest != null
          next = withEvent(p, { at, what: 'aborted', by, detail: back ? `activated hosts go back to ${r.record.fromVersion}` : 'no version before this one: activated hosts stay' }, { state: 'aborted', rolledBack: back, reason: `aborted by ${by}`, bakeUntil: null })
        }
        if (await write(r, next)) return { ...r.record, progress: next }
      }
      throw new RolloutStateError(`Cannot ${action} ${release}@${channel}: its progress kept changing under this request; try again`)
    },
    stop() {
      stopped = true
      if (poked) clearTimeout(poked)
    },
  }
}
