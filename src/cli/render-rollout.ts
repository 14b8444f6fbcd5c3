import { STATUS_STATES, type PlanSummary, type RolloutPlanView, type RolloutStatus } from '../core/index.js'

/** The rollout status as the tracker serves it (GET /v1/rollouts/:release/:channel/status). */
export type RolloutStatusView = Omit<RolloutStatus, 'rolloutId' | 'byState' | 'stragglers' | 'otherFailures'> & {
  rolloutId?: string
  otherFailures?: RolloutStatus['otherFailures']
  byState: Record<string, number>
  stragglers: { host: string; state: string; bytesDone: number; lastReportAt: string | null }[]
}

const STATES = STATUS_STATES
const MARK: Record<string, string> = { pending: '.', downloading: 'd', verifying: 'v', unpacking: 'u', staged: 's', launching: 'l', running: '#', unhealthy: '!', failed: 'X', lost: '?' }
const secs = (s: number | null): string => (s === null ? '-' : s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`)
const bytes = (n: number): string => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`)

/**
 * One screen for a release engineer at 3 a.m.: target, who moved it and when, a bar of hosts by
 * state, % running, time to running, an ETA, the slowest hosts, failures by code, origin
 * offload. Pure: `now` is passed in so tests can pin the ETA.
 */
export function renderRolloutStatus(s: RolloutStatusView, options: { width?: number; now?: number } = {}): string {
  const width = Math.max(20, Math.min(100, (options.width ?? 80) - 2))
  const now = options.now ?? Date.now()
  const lines: string[] = []
  lines.push(`${s.release}@${s.channel} -> ${s.version}  ${s.digest}`)
  lines.push(`moved by ${s.movedBy} at ${s.movedAt} (${secs((now - Date.parse(s.movedAt)) / 1000)} ago)`)
  let bar = ''
  for (const st of STATES) bar += MARK[st]!.repeat(s.hosts ? Math.round(((s.byState[st] ?? 0) / s.hosts) * width) : 0)
  lines.push(`[${bar.padEnd(width, ' ').slice(0, width)}]`)
  lines.push(STATES.filter((st) => (s.byState[st] ?? 0) > 0).map((st) => `${MARK[st]} ${st} ${s.byState[st]}`).join('   ') || 'no hosts follow this channel')
  const running = s.byState.running ?? 0
  const t = s.timeToRunningSeconds
  // ETA from the pace so far: hosts running per second since the move, for the ones left.
  const elapsed = (now - Date.parse(s.movedAt)) / 1000
  const left = s.hosts - running - (s.byState.failed ?? 0) - (s.byState.unhealthy ?? 0) - (s.byState.lost ?? 0)
  const eta = running > 0 && left > 0 ? secs((left * elapsed) / running) : left === 0 ? 'done' : '-'
  lines.push(`${s.percentRunning}% running (${running}/${s.hosts})   time to running p50 ${secs(t.p50)}  p90 ${secs(t.p90)}  max ${secs(t.max)}   ETA ${eta}`)
  const total = s.bytesFromPeers + s.bytesFromOrigin
  lines.push(total ? `bytes from peers ${bytes(s.bytesFromPeers)}, from origin ${bytes(s.bytesFromOrigin)} (${Math.round((s.originOffload ?? 0) * 100)}% offloaded)` : 'no bytes moved yet')
  // Incremental releases: what hosts did not have to fetch because they held it already.
  if (s.bytesDerived) lines.push(`derived on hosts from earlier versions ${bytes(s.bytesDerived)} (${Math.round((s.bytesDerived / (s.bytesDerived + total)) * 100)}% of the bytes needed)`)
  if (s.plan) lines.push(...planLines(s.plan, now))
  else if (s.plan === undefined && s.hosts > 0) lines.push('plain move: one wave, no gates')
  if (s.failures.length) {
    lines.push('failures:')
    for (const f of s.failures) lines.push(`  ${f.code.padEnd(26)} ${String(f.count).padStart(5)}  e.g. ${f.exampleHosts.join(', ')}`)
    if (s.otherFailures?.codes) lines.push(`  and ${s.otherFailures.hosts} more under ${s.otherFailures.codes} other codes`)
  }
  if (s.stragglers.length && left > 0) {
    lines.push('slowest:')
    for (const h of s.stragglers.slice(0, 5)) lines.push(`  ${h.host.padEnd(26)} ${h.state.padEnd(12)} ${bytes(h.bytesDone).padStart(10)}  last report ${h.lastReportAt ?? 'never'}`)
  }
  return `${lines.join('\n')}\n`
}

/** A planned rollout's lines: its state, why it halted, and each wave (the open one marked, its bake countdown). */
function planLines(p: RolloutPlanView, now: number): string[] {
  const g = p.gates
  const pr = p.progress
  const out = [`plan: ${pr.state}${pr.rolledBack ? ` (activated hosts rolled back to ${p.fromVersion ?? '-'})` : ''}; waves ${g.waves.join(',')}${g.by ? ` by ${g.by}` : ''}, max unavailable ${g.maxUnavailable}, bake ${g.bakeSeconds} s, halt after ${g.haltAfter}${g.autoRollback ? ', auto-rollback' : ''}`]
  if (pr.reason) out.push(`  why: ${pr.reason}`)
  p.waves.forEach((w, i) => {
    const bake = w.state === 'baking' && pr.bakeUntil ? ` (${Math.max(0, Math.ceil((Date.parse(pr.bakeUntil) - now) / 1000))} s left)` : ''
    out.push(`  ${i === pr.wave && pr.state !== 'done' ? '>' : ' '} wave ${i + 1}: ${String(w.hosts).padStart(5)} hosts  ${w.running} running  ${w.failed} failed  ${w.state}${bake}`)
  })
  return out
}

/** A plan before or as it starts: per wave its hosts, batches and how they spread across fault domains. */
export function renderPlan(p: PlanSummary): string {
  const g = p.gates
  const lines = [`${p.hosts} hosts in ${p.domains} ${g.by ? `${g.by} domain${p.domains === 1 ? '' : 's'}` : 'domain (no --by)'}; max unavailable ${g.maxUnavailable} per domain, bake ${g.bakeSeconds} s, halt after ${g.haltAfter} failures${g.autoRollback ? ', auto-rollback' : ''}`]
  p.waves.forEach((w, i) => {
    const spread = Object.entries(w.byDomain).sort(([a], [b]) => (a < b ? -1 : 1)).map(([d, n]) => `${d}:${n}`).join(' ')
    lines.push(`  wave ${i + 1}: ${String(w.hosts).padStart(5)} hosts in ${w.batches} batch${w.batches === 1 ? '' : 'es'}  ${spread}${w.sample.length ? `  e.g. ${w.sample.slice(0, 4).join(', ')}` : ''}`)
  })
  return `${lines.join('\n')}\n`
}
