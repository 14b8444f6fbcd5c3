import { afterEach, describe, expect, it } from 'vitest'
import { renderRolloutStatus } from '../../src/cli/render-rollout.js'
import { startFleet, TOKENS, waitFor, type Fleet } from '../helpers/fleet.js'
import { runCli } from '../helpers/run-cli.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { fetchMetric, metricValue } from '../helpers/metrics.js'

const tempDir = useTempDirs()
const fleets: Fleet[] = []
afterEach(() => {
  for (const f of fleets.splice(0)) f.kill()
})

const status = {
  release: 'web', channel: 'prod', version: '1.4.2', digest: `sha256:${'a'.repeat(64)}`, movedBy: 'ci', movedAt: '2026-11-23T03:00:00.000Z',
  hosts: 10, byState: { pending: 1, downloading: 2, verifying: 0, unpacking: 0, launching: 0, running: 6, failed: 1 }, percentRunning: 60,
  timeToRunningSeconds: { p50: 12, p90: 20, max: 25 }, stragglers: [{ host: 'h9', state: 'pending', bytesDone: 0, lastReportAt: null }],
  failures: [{ code: 'DISK_FULL', count: 1, exampleHosts: ['h7'] }], bytesFromPeers: 3 * 2 ** 30, bytesFromOrigin: 2 ** 30, originOffload: 0.75,
}

describe('renderRolloutStatus()', () => {
  it('shows target, mover, a bar by state, % running, times, an ETA, failures by code, stragglers and offload', () => {
    const text = renderRolloutStatus(status, { width: 42, now: Date.parse('2026-11-23T03:01:00.000Z') })
    expect(text).toContain('web@prod -> 1.4.2')
    expect(text).toContain('moved by ci at 2026-11-23T03:00:00.000Z (1 min 0 s ago)')
    expect(text).toContain('[' + '.'.repeat(4) + 'd'.repeat(8) + '#'.repeat(24) + 'X'.repeat(4) + ']')
    expect(text).toContain('60% running (6/10)')
    expect(text).toContain('ETA 30.0 s') // 3 hosts left at 6 hosts per minute
    expect(text).toMatch(/DISK_FULL\s+1 {2}e\.g\. h7/)
    expect(text).toContain('h9')
    expect(text).toContain('75% offloaded')
    expect(text).not.toContain('derived')
  })

  it('shows what hosts derived from earlier versions instead of fetching (incremental releases)', () => {
    const text = renderRolloutStatus({ ...status, bytesDerived: 12 * 2 ** 30 }, { width: 42, now: Date.parse('2026-11-23T03:01:00.000Z') })
    expect(text).toContain('derived on hosts from earlier versions 12.00 GiB (75% of the bytes needed)')
  })

  it('shows a plan: gates, each wave with its state, the open one marked, the bake countdown, and why it halted', () => {
    const progress = { rev: 3, state: 'running' as const, rolledBack: false, wave: 1, batch: 0, bakeUntil: '2026-11-23T03:01:20.000Z', reason: null, events: [] }
    const plan = {
      gates: { waves: ['1', '50%', '100%'], by: 'rack', maxUnavailable: '25%', bakeSeconds: 60, haltAfter: '1', autoRollback: true },
      progress,
      fromVersion: '1.4.1',
      waves: [
        { hosts: 1, batches: 1, running: 1, failed: 0, state: 'done' as const },
        { hosts: 4, batches: 2, running: 4, failed: 0, state: 'baking' as const },
        { hosts: 5, batches: 2, running: 0, failed: 0, state: 'waiting' as const },
      ],
    }
    const now = Date.parse('2026-11-23T03:01:00.000Z')
    const text = renderRolloutStatus({ ...status, byState: { ...status.byState, staged: 5 }, plan }, { width: 42, now })
    expect(text).toContain('plan: running; waves 1,50%,100% by rack, max unavailable 25%, bake 60 s, halt after 1, auto-rollback')
    expect(text).toMatch(/> wave 2:\s+4 hosts {2}4 running {2}0 failed {2}baking \(20 s left\)/)
    expect(text).toMatch(/ {3}wave 3:\s+5 hosts {2}0 running {2}0 failed {2}waiting/)
    expect(text).toContain('s staged 5')
    const halted = renderRolloutStatus({ ...status, plan: { ...plan, progress: { ...progress, state: 'halted', rolledBack: true, reason: '1 of 4 hosts in wave 2 failed (halt after 1): h3 (UNHEALTHY)' } } }, { now })
    expect(halted).toContain('plan: halted (activated hosts rolled back to 1.4.1)')
    expect(halted).toContain('why: 1 of 4 hosts in wave 2 failed (halt after 1): h3 (UNHEALTHY)')
  })
})

describe('shoal rollout / shoal hosts (real tracker, seeder and fetchers)', () => {
  it('status counts equal what the hosts reported; list, history and hosts --state agree', async () => {
    const fleet = await startFleet(await tempDir(), { hosts: 2, fetcherArgs: ['--metrics-port', '0'] })
    fleets.push(fleet)
    const api = ['--tracker', fleet.tracker.url, '--token', TOKENS.viewer]
    // Started before the first publish: says the channel does not exist yet, then follows its first move to the end.
    const first = runCli(['rollout', 'status', 'app@prod', ...api, '--watch', '--next'], { timeoutMs: 110_000 })
    await waitFor('the watcher to be waiting', async () => {
      const m = await (await fetch(`${fleet.tracker.url}/metrics`)).text()
      return /shoal_tracker_requests_total\{route="\/v1\/rollouts\/:release\/:channel\/events",status="404"\}/.test(m)
    }, 30_000)
    const b = await fleet.publish('1.0.0', 1 << 20)
    await waitFor('2 hosts running', async () => (await fleet.status()).byState.running === 2)
    const firstWatch = await first
    expect(firstWatch.code, firstWatch.stderr).toBe(0)
    expect(firstWatch.stderr).toContain('app@prod does not exist yet')
    expect(firstWatch.stdout).toContain('app@prod -> 1.0.0')
    expect(firstWatch.stdout).toContain('100% running (2/2)')
    const json = await runCli(['rollout', 'status', 'app@prod', ...api, '--json'])
    expect(json.code, json.stderr).toBe(0)
    const s = JSON.parse(json.stdout)
    expect(s).toMatchObject({ version: '1.0.0', digest: b.digest, hosts: 2, percentRunning: 100 })
    expect(s.byState.running).toBe(2)
    const text = await runCli(['rollout', 'status', 'app@prod', ...api])
    expect(text.stdout).toContain('100% running (2/2)')
    const watch = await runCli(['rollout', 'status', 'app@prod', ...api, '--watch']) // a pipe: ends once all hosts are done
    expect(watch.code).toBe(0)
    expect((await runCli(['rollout', 'list', ...api])).stdout).toMatch(/app@prod\s+1\.0\.0\s+100% running/)
    expect((await runCli(['rollout', 'history', 'app@prod', ...api])).stdout).toMatch(/\(none\)\s+-> 1\.0\.0\s+by ci/)
    const table = (await runCli(['hosts', ...api])).stdout.split('\n')
    expect(table[0]).toMatch(/^HOST\s+LABELS\s+FOLLOWS\s+VERSION\s+STATE\s+LAST SEEN$/)
    expect(table.filter((l) => /^host\d\s+-\s+app@prod\s+1\.0\.0\s+running\s+\d{4}-/.test(l))).toHaveLength(2)
    const hosts = JSON.parse((await runCli(['hosts', ...api, '--state', 'running', '--json'])).stdout).hosts
    expect(hosts.map((h: { id: string }) => h.id).sort()).toEqual(['host0', 'host1'])
    expect((await runCli(['hosts', ...api, '--state', 'failed'])).stdout).toContain('no hosts match')
    expect((await runCli(['rollout', 'status', 'app@prod', '--tracker', fleet.tracker.url, '--token', 'wrong-token-0123456789'])).code).toBe(4)
    // Each fetcher's /metrics tells the same story from the host's side.
    const m = await (await fetch(fleet.fetchers[0]!.info.metrics as string)).text()
    const metric = (name: string) => metricValue(m, name)
    expect(metric('shoal_fetcher_downloaded_bytes_total')).toBeGreaterThanOrEqual(b.size)
    expect(metric('shoal_fetcher_downloaded_bytes_total')).toBeLessThanOrEqual(2 * b.size)
    expect(metric('shoal_fetcher_pieces_verified')).toBe(Math.ceil(b.size / (64 << 10)))
    expect(metric('shoal_fetcher_piece_hash_failures_total')).toBe(0)
    expect(metric('shoal_fetcher_launch_failures_total')).toBe(0)

    // --next after a finished rollout: not its 100% screen at once, but the next move to its end.
    const next = runCli(['rollout', 'status', 'app@prod', ...api, '--watch', '--next'], { timeoutMs: 110_000 })
    await waitFor('the second watcher on the stream', async () => (await fetchMetric(`${fleet.tracker.url}/metrics`, 'shoal_tracker_event_streams')) === 1, 30_000)
    await fleet.publish('2.0.0', 1 << 20)
    const nextWatch = await next
    expect(nextWatch.code, nextWatch.stderr).toBe(0)
    expect(nextWatch.stderr).toContain('waiting for the next move of app@prod (now 1.0.0)')
    expect(nextWatch.stdout).not.toContain('-> 1.0.0')
    expect(nextWatch.stdout).toContain('app@prod -> 2.0.0')
    expect(nextWatch.stdout).toContain('100% running (2/2)')

    // undo: a viewer may not; a publisher moves the channel back, recorded in the history, and the
    // hosts run 1.0.0 again from their caches (no bytes downloaded).
    expect((await runCli(['rollout', 'undo', 'app@prod', ...api])).code).toBe(4)
    const downloaded = async () => await fetchMetric(fleet.fetchers[0]!.info.metrics as string, 'shoal_fetcher_downloaded_bytes_total')
    const before = await downloaded()
    const undo = await runCli(['rollout', 'undo', 'app@prod', '--tracker', fleet.tracker.url, '--token', TOKENS.publisher])
    expect(undo.code, undo.stderr).toBe(0)
    expect(undo.stdout).toContain('app@prod: 2.0.0 -> 1.0.0')
    await waitFor('both hosts running 1.0.0 again', async () => {
      const st = (await fleet.status()) as { version?: string; byState: Record<string, number> }
      return st.version === '1.0.0' && st.byState.running === 2
    })
    expect(await downloaded()).toBe(before)
    expect((await runCli(['rollout', 'history', 'app@prod', ...api])).stdout).toMatch(/2\.0\.0\s+-> 1\.0\.0\s+by ci/)
  }, 120_000)
})
