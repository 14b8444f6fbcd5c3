import { afterEach, describe, expect, it } from 'vitest'
import { startFleet, TOKENS, type Fleet } from '../helpers/fleet.js'
import { runCli } from '../helpers/run-cli.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const fleets: Fleet[] = []
afterEach(() => {
  for (const f of fleets.splice(0)) f.kill()
})

describe('seeder retention', () => {
  it('shoal gc --seeder keeps channel targets and the newest K versions, removes the rest, and stops serving it', async () => {
    const fleet = await startFleet(await tempDir(), { hosts: 0, seederArgs: ['--keep', '1', '--grace-minutes', '0', '--sweep-minutes', '0'] })
    fleets.push(fleet)
    const v1 = await fleet.publish('1.0.0', 300_000)
    const v2 = await fleet.publish('2.0.0', 300_000)
    const v3 = await fleet.publish('3.0.0', 300_000)
    // prod back to 1.0.0: a rollback target must survive; 3.0.0 is the newest version; 2.0.0 is neither.
    const back = await fetch(`${fleet.tracker.url}/v1/channels/app/prod`, { method: 'PUT', headers: { authorization: `Bearer ${TOKENS.publisher}`, 'content-type': 'application/json' }, body: JSON.stringify({ version: '1.0.0' }) })
    expect(back.ok).toBe(true)
    const served = async (d: string) => (await fetch(`${fleet.seeder.url}/bundles/${d.slice(7)}.tar`, { method: 'HEAD', headers: { authorization: `Bearer ${TOKENS.seeder}` } })).status
    expect(await served(v2.digest)).toBe(200)

    const denied = await runCli(['gc', '--seeder', fleet.seeder.url, '--token', TOKENS.host])
    expect(denied.code).toBe(4)
    const r = await runCli(['gc', '--seeder', fleet.seeder.url, '--token', TOKENS.publisher, '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).removed).toEqual([v2.digest])
    expect(await served(v2.digest)).toBe(404)
    expect(await served(v1.digest)).toBe(200)
    expect(await served(v3.digest)).toBe(200)
    const again = await runCli(['gc', '--seeder', fleet.seeder.url, '--token', TOKENS.publisher, '--json'])
    expect(JSON.parse(again.stdout).removed).toEqual([])
  }, 120_000)
})

describe('seeder restart', () => {
  it('a restarted seeder seeds what it holds again over the peer wire (not only the web seed)', async () => {
    const { waitFor } = await import('../helpers/fleet.js')
    const fleet = await startFleet(await tempDir(), { hosts: 0 })
    fleets.push(fleet)
    const b = await fleet.publish('1.0.0', 4 << 20)
    fleet.seeder.child.kill('SIGKILL')
    await new Promise((r) => fleet.seeder.child.once('exit', r))
    await fleet.startSeeder()
    await fleet.startFetcher(0)
    await waitFor('the host running', async () => (await fleet.get(`/v1/hosts/host0/reports/${b.digest}`)).state === 'running')
    expect(await fleet.seederMetric('shoal_seeder_uploaded_bytes_total')).toBeGreaterThanOrEqual(b.size)
  }, 120_000)
})
