import { runningCurve } from './rollout-status.js'
import { HOST_STATES, NotFoundError, type HostState, type RolloutStatus, type StatusState } from '../core/index.js'
import type { ChannelRecord, HostRecord, ReportRecord, RolloutRecord, TrackerStore } from './tracker-store.js'

/**
 * Rollout statuses kept as incremental counters per channel, so reading one costs the same at
 * 100,000 hosts as at 10 (issue 19): a channel's view is read from the store once (its followers
 * and their reports for the target), then every report moves its host from one state's counter
 * to another's, and the byte sums, failure codes and running times with it. Reports written
 * through this replica are applied as they are acknowledged; those written through another
 * replica (the store's watch) name their hosts and are read back in one query at the next read,
 * so a read costs what changed since the last one, not the fleet. A move rebuilds the view.
 *
 * On top, a computed status is shared by every reader for `ttlMs` (dashboards, CLIs in --watch,
 * the metrics gauge); `notBefore` asks for one computed after a change (an event stream that saw
 * a change must not be sent a status cached from before it). The figures are the ones
 * computeRolloutStatus (rollout-status.ts) gives from a full pass; a test holds them equal.
 */
export interface StatusCache {
  statusOf(release: string, channel: string, notBefore?: number): Promise<RolloutStatus>
  /** A channel moved: its view is stale at once. */
  invalidate(release: string, channel: string): void
  /** This replica stored a report. */
  reported(report: ReportRecord): void
  /** Another replica stored reports of these hosts on this digest (undefined: which hosts is not known). */
  reportedElsewhere(digest: string, hosts: string[] | undefined): void
  /** A host registered or changed what it follows (here or on another replica). */
  hostChanged(id: string): void
}

type Contribution = { state: HostState; peers: number; origin: number; derived: number; code?: string; time?: number }

interface View {
  ch: ChannelRecord
  rollout: RolloutRecord | undefined
  key: string
  movedAtMs: number
  /** Every follower (in the store's order) and its report on the target, if any. */
  followers: Map<string, ReportRecord | undefined>
  byState: Record<HostState, number>
  fromPeers: number
  fromOrigin: number
  derived: number
  failures: Map<string, Set<string>>
  /** Seconds from the move to running, sorted. */
  times: number[]
  dirtyReports: Set<string>
  dirtyHosts: Set<string>
  /** The whole view is stale (a remote report without host names, or too much to catch up on). */
  stale: boolean
  /** Filled from the store (until then changes only mark hosts dirty). */
  ready: boolean
  /** Reads and catch-ups run one at a time per view. */
  lock: Promise<unknown>
}

const sortedInsert = (a: number[], x: number): void => {
  let lo = 0
  let hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (a[mid]! <= x) lo = mid + 1
    else hi = mid
  }
  a.splice(lo, 0, x)
}
const sortedRemove = (a: number[], x: number): void => {
  let lo = 0
  let hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (a[mid]! < x) lo = mid + 1
    else hi = mid
  }
  if (a[lo] === x) a.splice(lo, 1)
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  return sorted[Math.max(0, i)]!
}

function contributionOf(v: View, r: ReportRecord | undefined): Contribution {
  const state: HostState = r?.state ?? 'pending'
  return {
    state,
    peers: r?.bytesFromPeers ?? 0,
    origin: r?.bytesFromOrigin ?? 0,
    derived: r?.bytesDerived ?? 0,
    ...(state === 'failed' || state === 'unhealthy' ? { code: r?.errorCode ?? (state === 'unhealthy' ? 'UNHEALTHY' : 'UNKNOWN') } : {}),
    ...(state === 'running' && r?.runningAt ? { time: Math.max(0, (Date.parse(r.runningAt) - v.movedAtMs) / 1000) } : {}),
  }
}

function account(v: View, host: string, c: Contribution, sign: 1 | -1): void {
  v.byState[c.state] += sign
  v.fromPeers += sign * c.peers
  v.fromOrigin += sign * c.origin
  v.derived += sign * c.derived
  if (c.code !== undefined) {
    let hosts = v.failures.get(c.code)
    if (!hosts) v.failures.set(c.code, (hosts = new Set()))
    if (sign > 0) hosts.add(host)
    else if (hosts.delete(host) && hosts.size === 0) v.failures.delete(c.code)
  }
  if (c.time !== undefined) (sign > 0 ? sortedInsert : sortedRemove)(v.times, c.time)
}

/** Sets a follower's report (undefined: no report yet), or drops the host (gone: it no longer follows). */
function setFollower(v: View, host: string, r: ReportRecord | undefined, gone = false): void {
  if (v.followers.has(host)) account(v, host, contributionOf(v, v.followers.get(host)), -1)
  if (gone) return void v.followers.delete(host)
  v.followers.set(host, r)
  account(v, host, contributionOf(v, r), 1)
}

function emptyView(key: string): View {
  return {
    ch: undefined as unknown as ChannelRecord,
    rollout: undefined,
    key,
    movedAtMs: 0,
    followers: new Map(),
    byState: Object.fromEntries(HOST_STATES.map((s) => [s, 0])) as Record<HostState, number>,
    fromPeers: 0,
    fromOrigin: 0,
    derived: 0,
    failures: new Map(),
    times: [],
    dirtyReports: new Set(),
    dirtyHosts: new Set(),
    stale: false,
    ready: false,
    lock: Promise.resolve(),
  }
}

/** Fills a view from the store. Changes that arrive meanwhile only mark hosts dirty (they are read back after). */
async function fillView(store: TrackerStore, v: View, release: string, channel: string): Promise<View> {
  const ch = await store.getChannel(release, channel)
  if (!ch) throw new NotFoundError(`Cannot find channel ${v.key}`)
  const history = await store.rolloutHistory(release, channel)
  v.ch = ch
  v.rollout = history.at(-1)
  v.movedAtMs = Date.parse(ch.movedAt)
  for (const h of await store.listHosts()) if (h.follows.includes(v.key)) setFollower(v, h.id, undefined)
  for (const r of await store.reportsFor(ch.digest)) if (v.followers.has(r.hostId)) setFollower(v, r.hostId, r)
  v.ready = true
  return v
}

/** Reads back what changed elsewhere since the last read: hosts that (un)followed, reports written through other replicas. */
async function catchUp(store: TrackerStore, v: View): Promise<void> {
  const hosts = [...v.dirtyHosts]
  v.dirtyHosts.clear()
  for (const id of hosts) {
    const h: HostRecord | undefined = await store.getHost(id)
    const follows = h?.follows.includes(v.key) === true
    if (follows && !v.followers.has(id)) {
      // A new follower: counted as pending until its report (if any) is read below.
      setFollower(v, id, undefined)
      v.dirtyReports.add(id)
    } else if (!follows && v.followers.has(id)) setFollower(v, id, undefined, true)
  }
  const ids = [...v.dirtyReports].filter((id) => v.followers.has(id))
  v.dirtyReports.clear()
  if (ids.length === 0) return
  const reports = store.reportsOf ? await store.reportsOf(v.ch.digest, ids) : await Promise.all(ids.map((id) => store.getReport(id, v.ch.digest)))
  for (const r of reports) {
    // A report this replica applied meanwhile may be newer than what was read.
    const held = r ? v.followers.get(r.hostId) : undefined
    if (r && v.followers.has(r.hostId) && !(held && held.at > r.at)) setFollower(v, r.hostId, r)
  }
}

/** A host with this progress and last report goes before straggler x. */
const slower = (bytesDone: number, at: string, x: RolloutStatus['stragglers'][number]): boolean => bytesDone < x.bytesDone || (bytesDone === x.bytesDone && at < String(x.lastReportAt))

function statusFrom(v: View, options: { stragglers?: number; examples?: number; failureCodes?: number; isLost?: (hostId: string) => boolean } = {}): RolloutStatus {
  const { stragglers: maxStragglers = 10, examples = 3, failureCodes = 20, isLost } = options
  // Lost is not a counter: it is whether the host still polls now, so it is applied at each read.
  const byState: Record<StatusState, number> = { ...v.byState, lost: 0 }
  // The slowest not yet running: least progress, then oldest report (no report sorts last); a
  // bounded selection in one pass that allocates only for hosts that make the list.
  const slow: RolloutStatus['stragglers'] = []
  // forEach, not for-of: no [key, value] array per host (this loop is most of a read at 100,000 hosts).
  v.followers.forEach((r, host) => {
    const reported: HostState = r === undefined ? 'pending' : r.state
    if (reported === 'failed') return
    let state: StatusState = reported
    if (isLost?.(host)) {
      byState[reported]--
      byState.lost++
      state = 'lost'
    }
    if (state === 'running') return
    const bytesDone = r === undefined ? 0 : r.bytesDone
    if (slow.length === maxStragglers) {
      const last = slow[maxStragglers - 1]!
      if (bytesDone > last.bytesDone) return
      if (bytesDone === last.bytesDone && !(String(r?.at ?? null) < String(last.lastReportAt))) return
    }
    const at = String(r?.at ?? null)
    let i = slow.length
    while (i > 0 && slower(bytesDone, at, slow[i - 1]!)) i--
    slow.splice(i, 0, { host, state, bytesDone, lastReportAt: r?.at ?? null })
    if (slow.length > maxStragglers) slow.pop()
  })
  const firstOf = (hosts: Set<string>): string[] => {
    const out: string[] = []
    for (const h of hosts) if (out.push(h) >= examples) break
    return out
  }
  const byCount = [...v.failures.entries()].map(([code, hosts]) => ({ code, count: hosts.size, exampleHosts: firstOf(hosts) })).sort((a, b) => b.count - a.count || (a.code < b.code ? -1 : 1))
  const shown = byCount.slice(0, failureCodes)
  const rest = byCount.slice(failureCodes)
  const total = v.followers.size
  const t = v.times
  return {
    release: v.ch.release,
    channel: v.ch.channel,
    version: v.ch.version,
    digest: v.ch.digest,
    rolloutId: v.rollout?.id ?? v.ch.rolloutId,
    movedBy: v.ch.movedBy,
    movedAt: v.ch.movedAt,
    hosts: total,
    byState,
    percentRunning: total === 0 ? 0 : Math.round((byState.running / total) * 1000) / 10,
    runningCurve: runningCurve(t),
    timeToRunningSeconds: { p50: percentile(t, 50), p90: percentile(t, 90), max: t.length ? t[t.length - 1]! : null },
    stragglers: slow,
    failures: shown,
    otherFailures: { codes: rest.length, hosts: rest.reduce((a, f) => a + f.count, 0) },
    bytesFromPeers: v.fromPeers,
    bytesFromOrigin: v.fromOrigin,
    bytesDerived: v.derived,
    originOffload: v.fromPeers + v.fromOrigin === 0 ? null : v.fromPeers / (v.fromPeers + v.fromOrigin),
  }
}

export function createStatusCache(store: TrackerStore, ttlMs: number, options: { isLost?: (hostId: string) => boolean } = {}): StatusCache {
  const cache = new Map<string, { at: number; value: RolloutStatus }>()
  const views = new Map<string, { view: View; filled: Promise<View> }>()

  const viewOf = (release: string, channel: string): Promise<View> => {
    const key = `${release}@${channel}`
    let entry = views.get(key)
    if (!entry) {
      const view = emptyView(key)
      const filled = fillView(store, view, release, channel)
      entry = { view, filled }
      views.set(key, entry)
      const mine = entry
      filled.catch(() => (views.get(key) === mine ? views.delete(key) : undefined))
    }
    return entry.filled
  }
  const each = (fn: (v: View) => void): void => {
    for (const { view } of views.values()) fn(view)
  }

  return {
    async statusOf(release, channel, notBefore = 0) {
      const key = `${release}@${channel}`
      const cached = cache.get(key)
      if (cached && Date.now() - cached.at < ttlMs && cached.at >= notBefore) return cached.value
      const at = Date.now() // stamped before reading, so a report during the read counts as newer
      let v = await viewOf(release, channel)
      if (v.stale || v.dirtyReports.size + v.dirtyHosts.size > Math.max(1_000, v.followers.size / 2)) {
        // Rebuilding reads everything once, which is cheaper than catching up host by host.
        if (views.get(key)?.view === v) views.delete(key)
        v = await viewOf(release, channel)
      }
      const run = v.lock.then(() => catchUp(store, v))
      v.lock = run.catch(() => {})
      await run
      const value = statusFrom(v, { isLost: options.isLost })
      cache.set(key, { at, value })
      return value
    },
    invalidate(release, channel) {
      const key = `${release}@${channel}`
      cache.delete(key)
      views.delete(key)
    },
    reported(r) {
      each((v) => {
        if (!v.ready) v.dirtyReports.add(r.hostId)
        else if (v.ch.digest === r.digest && v.followers.has(r.hostId)) setFollower(v, r.hostId, r)
      })
    },
    reportedElsewhere(digest, hosts) {
      each((v) => {
        if (v.ready && v.ch.digest !== digest) return
        if (hosts === undefined) v.stale = true
        else for (const h of hosts) v.dirtyReports.add(h)
      })
    },
    hostChanged(id) {
      each((v) => v.dirtyHosts.add(id))
    },
  }
}

