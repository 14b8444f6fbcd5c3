import { STATUS_STATES, type StatusState, type RolloutStatus } from '../core/index.js'
import type { ChannelRecord, HostRecord, ReportRecord, RolloutRecord } from './tracker-store.js'

export type { RolloutStatus }

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  return sorted[Math.max(0, i)]!
}

/**
 * A rollout's status from the hosts that follow the channel and their reports for the target
 * digest. Hosts with no report yet count as pending. A pure function: the API, the CLI and the
 * dashboard all show the same figures.
 */
export function computeRolloutStatus(
  channel: ChannelRecord,
  rollout: RolloutRecord | undefined,
  followers: HostRecord[],
  reports: ReportRecord[],
  options: { stragglers?: number; examples?: number; failureCodes?: number; isLost?: (hostId: string) => boolean } = {},
): RolloutStatus {
  const { stragglers: maxStragglers = 10, examples = 3, failureCodes = 20 } = options
  const byHost = new Map(reports.map((r) => [r.hostId, r]))
  const byState = Object.fromEntries(STATUS_STATES.map((s) => [s, 0])) as Record<StatusState, number>
  const movedAtMs = Date.parse(channel.movedAt)
  const times: number[] = []
  // Per code: how many hosts and the first few of them (never every host: the status is sent to
  // every viewer on every change, so its size must not grow with the fleet).
  const failures = new Map<string, { count: number; hosts: string[] }>()
  const notRunning: RolloutStatus['stragglers'] = []
  let fromPeers = 0
  let fromOrigin = 0
  let derived = 0
  for (const host of followers) {
    const r = byHost.get(host.id)
    const reported = r?.state ?? 'pending'
    const state: StatusState = reported !== 'failed' && options.isLost?.(host.id) ? 'lost' : reported
    byState[state]++
    if (r) {
      fromPeers += r.bytesFromPeers
      fromOrigin += r.bytesFromOrigin
      derived += r.bytesDerived ?? 0
    }
    if (state === 'running' && r?.runningAt) times.push(Math.max(0, (Date.parse(r.runningAt) - movedAtMs) / 1000))
    if (reported === 'failed' || reported === 'unhealthy') {
      const code = r?.errorCode ?? (reported === 'unhealthy' ? 'UNHEALTHY' : 'UNKNOWN')
      const f = failures.get(code) ?? { count: 0, hosts: [] }
      f.count++
      if (f.hosts.length < examples) f.hosts.push(host.id)
      failures.set(code, f)
    }
    if (state !== 'running' && state !== 'failed') notRunning.push({ host: host.id, state, bytesDone: r?.bytesDone ?? 0, lastReportAt: r?.at ?? null })
  }
  times.sort((a, b) => a - b)
  // The slowest first: least progress, then oldest report.
  notRunning.sort((a, b) => a.bytesDone - b.bytesDone || String(a.lastReportAt).localeCompare(String(b.lastReportAt)))
  const total = followers.length
  const byCount = [...failures.entries()].map(([code, f]) => ({ code, count: f.count, exampleHosts: f.hosts })).sort((a, b) => b.count - a.count || (a.code < b.code ? -1 : 1))
  const shown = byCount.slice(0, failureCodes)
  const rest = byCount.slice(failureCodes)
  return {
    release: channel.release,
    channel: channel.channel,
    version: channel.version,
    digest: channel.digest,
    rolloutId: rollout?.id ?? channel.rolloutId,
    movedBy: channel.movedBy,
    movedAt: channel.movedAt,
    hosts: total,
    byState,
    percentRunning: total === 0 ? 0 : Math.round((byState.running / total) * 1000) / 10,
    runningCurve: runningCurve(times),
    timeToRunningSeconds: { p50: percentile(times, 50), p90: percentile(times, 90), max: times.length ? times[times.length - 1]! : null },
    stragglers: notRunning.slice(0, maxStragglers),
    failures: shown,
    otherFailures: { codes: rest.length, hosts: rest.reduce((a, f) => a + f.count, 0) },
    bytesFromPeers: fromPeers,
    bytesFromOrigin: fromOrigin,
    bytesDerived: derived,
    originOffload: fromPeers + fromOrigin === 0 ? null : fromPeers / (fromPeers + fromOrigin),
  }
}

/** At most `points` samples [seconds, hosts running by then] of sorted times to running (see RolloutStatus.runningCurve). */
export function runningCurve(sorted: readonly number[], points = 60): Array<[number, number]> {
  const n = sorted.length
  const out: Array<[number, number]> = []
  for (let i = 1; i <= Math.min(points, n); i++) {
    const idx = Math.ceil((i * n) / Math.min(points, n)) - 1
    out.push([sorted[idx]!, idx + 1])
  }
  return out
}
