import { afterEach, describe, expect, it } from 'vitest'
import { TOKENS, startFleet, waitFor, type Fleet } from '../helpers/fleet.js'
import { runCli } from '../helpers/run-cli.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const fleets: Fleet[] = []
afterEach(() => {
  for (const f of fleets.splice(0)) f.kill()
})
type Status = { version?: string; hosts: number; percentRunning: number; byState: Record<string, number>; stragglers: { host: string; state: string }[] }

describe('a dead host is lost, not running (issue 14: liveness)', () => {
  it('kill -9 of a running fetcher: lost within the tracker\'s --lost-after, not counted as running, listed by hosts --state lost; restarted, it runs again', async () => {
    const fleet = await startFleet(await tempDir(), { hosts: 2, trackerArgs: ['--lost-after', '3'] })
    fleets.push(fleet)
    await fleet.publish('1.0.0', 64 << 10)
    await waitFor('2 hosts running', async () => (await fleet.status()).byState.running === 2)

    fleet.fetchers[1]!.child.kill('SIGKILL')
    const killedAt = performance.now()
    const lost = (await waitFor('host1 lost', async () => {
      const s = (await fleet.status()) as unknown as Status
      return s.byState.lost === 1 ? s : undefined
    }, 30_000)) as Status
    // Its poll ended with the process, so it is lost after --lost-after (3 s), well within three polls.
    expect(performance.now() - killedAt).toBeLessThan(15_000)
    expect(lost.byState.running).toBe(1)
    expect(lost.percentRunning).toBe(50)
    expect(lost.stragglers).toEqual([expect.objectContaining({ host: 'host1', state: 'lost' })])
    const api = ['--tracker', fleet.tracker.url, '--token', TOKENS.viewer]
    const listed = JSON.parse((await runCli(['hosts', ...api, '--state', 'lost', '--json'])).stdout).hosts as { id: string }[]
    expect(listed.map((h) => h.id)).toEqual(['host1'])
    const screen = await runCli(['rollout', 'status', 'app@prod', ...api])
    expect(screen.stdout).toContain('? lost 1')
    expect(screen.stdout).toContain('50% running (1/2)')
    // A piped watch ends: every host is running, failed or lost.
    const watch = await runCli(['rollout', 'status', 'app@prod', ...api, '--watch'])
    expect(watch.code, watch.stderr).toBe(0)

    await fleet.startFetcher(1)
    await waitFor('host1 back and running', async () => {
      const s = (await fleet.status()) as unknown as Status
      return s.byState.running === 2 && !s.byState.lost
    }, 30_000)
    expect(JSON.parse((await runCli(['hosts', ...api, '--state', 'lost', '--json'])).stdout).hosts).toEqual([])
  }, 120_000)
})
