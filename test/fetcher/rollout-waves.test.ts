import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { TOKENS, startFleet, waitFor, type Fleet } from '../helpers/fleet.js'
import { freePort } from '../helpers/free-port.js'
import { runCli } from '../helpers/run-cli.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { fetchMetric } from '../helpers/metrics.js'

const tempDir = useTempDirs()
const fleets: Fleet[] = []
afterEach(async () => {
  for (const f of fleets.splice(0)) {
    // Fetchers first, with SIGTERM: each stops the app it started (a SIGKILL would orphan it).
    await Promise.all(f.fetchers.filter((x) => x && x.child.exitCode === null && x.child.signalCode === null).map((x) => new Promise((r) => {
      x.child.once('exit', r)
      x.child.kill('SIGTERM')
      setTimeout(r, 15_000).unref()
    })))
    f.kill()
  }
})

const HOSTS = 12
const rackOf = (k: number): string => `r${k % 3}`

/** A real app: serves its version on / and answers /healthz (500 when built unhealthy). */
async function appTree(dir: string, version: string, healthy: boolean): Promise<string> {
  const tree = join(dir, `tree-${version}`)
  await mkdir(tree, { recursive: true })
  await writeFile(
    join(tree, 'server.js'),
    `require('node:http').createServer((req, res) => {
  if (req.url === '/healthz') { res.statusCode = ${healthy ? 200 : 500}; return res.end('${healthy ? 'ok' : 'broken'}') }
  res.end(${JSON.stringify(version)})
}).listen(Number(process.env.APP_PORT), '127.0.0.1')
`,
  )
  await writeFile(
    join(tree, 'shoal.json'),
    JSON.stringify({
      entrypoint: ['node', 'server.js'],
      restart: 'on-failure',
      healthCheck: { httpGet: { portEnv: 'APP_PORT', path: '/healthz' }, intervalSeconds: 1, timeoutSeconds: 2, retries: 4 },
    }),
  )
  await writeFile(join(tree, 'payload.bin'), Buffer.alloc(1 << 20, version))
  return tree
}

type Plan = { progress: { state: string; wave: number; batch: number; bakeUntil: string | null; rolledBack: boolean; reason: string | null; events: { what: string; at: string }[] }; waves: { hosts: number; running: number; state: string }[] }
type Status = { version: string; hosts: number; byState: Record<string, number>; plan?: Plan }

describe('rollouts in waves with real fetchers and a real app behind a health check (issue 14)', () => {
  it('a good version goes through 4 waves by rack, never more than max-unavailable of a rack out, surviving a tracker kill -9; a bad one halts in wave 1 and rolls back without a download', async () => {
    const dir = await tempDir()
    const ports = await Promise.all(Array.from({ length: HOSTS }, () => freePort()))
    const fleet = await startFleet(dir, {
      hosts: HOSTS,
      fetcherExtra: (k) => ({ args: ['--agent', 'process', '--label', `rack=${rackOf(k)}`, '--metrics-port', '0'], env: { APP_PORT: String(ports[k]) } }),
    })
    fleets.push(fleet)
    const trackerPort = new URL(fleet.tracker.url).port
    const pub = ['--tracker', fleet.tracker.url, '--token', TOKENS.publisher]
    const publish = async (version: string, healthy: boolean, channel?: string): Promise<void> => {
      const r = await runCli(['publish', await appTree(dir, version, healthy), '-r', 'app', '--version', version, ...(channel ? ['-c', channel] : []), '--seeder', fleet.seeder.url, ...pub, '-q'])
      expect(r.code, r.stderr).toBe(0)
    }
    const serving = async (k: number): Promise<string | null> => {
      try {
        const r = await fetch(`http://127.0.0.1:${ports[k]}/`, { signal: AbortSignal.timeout(1_000) })
        return r.ok ? await r.text() : null
      } catch {
        return null
      }
    }
    const status = (): Promise<Status> => fleet.status() as unknown as Promise<Status>

    // v1 everywhere, as a plain move (one wave, no gates).
    await publish('v1', true, 'prod')
    await waitFor('12 apps serving v1', async () => (await Promise.all(ports.map((_, k) => serving(k)))).every((v) => v === 'v1'), 90_000)

    // v2 in waves: 1, 10%, 50%, 100% by rack, one host of a rack (25% of 4) out at a time, 2 s bake.
    await publish('v2', true)
    const dry = await runCli(['rollout', 'start', 'app@prod', '--to', 'v2', '--by', 'rack', '--max-unavailable', '25%', '--bake', '2s', '--dry-run', ...pub])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toContain('12 hosts in 3 rack domains')
    expect(dry.stdout).toContain('dry run: nothing changed')
    expect((await status()).version).toBe('v1')

    // Sample the apps and the tracker every 100 ms for the whole rollout.
    const samples: { at: number; serving: (string | null)[]; wave: number | null }[] = []
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        const s = await status().catch(() => undefined) // the tracker is killed once on purpose
        samples.push({ at: Date.now(), serving: await Promise.all(ports.map((_, k) => serving(k))), wave: s?.plan?.progress.wave ?? null })
        await new Promise((r) => setTimeout(r, 100))
      }
    })()
    const started = await runCli(['rollout', 'start', 'app@prod', '--to', 'v2', '--by', 'rack', '--max-unavailable', '25%', '--bake', '2s', ...pub])
    expect(started.code, started.stderr).toBe(0)

    // Every host stages v2 at once while still serving v1; wave 1 (one host) activates.
    await waitFor('hosts staged', async () => {
      const s = await status()
      return (s.byState.staged ?? 0) >= 10 || (s.plan?.progress.wave ?? 0) > 0
    }, 60_000)
    // Mid-rollout the tracker dies (kill -9) and comes back on its port: the plan and the open wave are on disk.
    await waitFor('wave 3 open', async () => {
      const s = await status()
      // A halt here is a failure of the test's premise (a healthy version): say why at once.
      if (s.plan?.progress.state === 'halted') throw new Error(`the good version halted: ${s.plan.progress.reason}`)
      return (s.plan?.progress.wave ?? 0) >= 2
    }, 90_000)
    fleet.tracker.child.kill('SIGKILL')
    await new Promise((r) => fleet.tracker.child.once('exit', r))
    await fleet.startTracker(trackerPort)
    const after = await status()
    expect(after.plan!.progress.wave).toBeGreaterThanOrEqual(2)
    await waitFor('rollout done', async () => (await status()).plan?.progress.state === 'done', 120_000)
    await waitFor('12 apps serving v2', async () => (await Promise.all(ports.map((_, k) => serving(k)))).every((v) => v === 'v2'), 30_000)
    sampling = false
    await sampler

    // No rack ever had more than one host (25% of 4) not serving; the fleet ran both versions side by side for a while.
    expect(samples.length).toBeGreaterThan(50)
    expect(samples.some((s) => s.serving.includes('v1') && s.serving.includes('v2'))).toBe(true)
    for (const s of samples) {
      for (const rack of ['r0', 'r1', 'r2']) {
        const out = s.serving.filter((v, k) => rackOf(k) === rack && v === null).length
        expect(out, `rack ${rack} at ${new Date(s.at).toISOString()}: ${JSON.stringify(s.serving)}`).toBeLessThanOrEqual(1)
      }
    }
    // Each wave opened only after the one before had baked 2 s.
    const done = await status()
    expect(done.byState.running).toBe(HOSTS)
    const events = done.plan!.progress.events
    expect(done.plan!.waves.map((w) => w.hosts)).toEqual([1, 1, 4, 6])
    const opened = events.filter((e) => e.what === 'wave opened' || e.what === 'done')
    const baking = events.filter((e) => e.what === 'baking')
    expect(opened).toHaveLength(4)
    expect(baking).toHaveLength(4)
    opened.forEach((e, i) => expect(Date.parse(e.at) - Date.parse(baking[i]!.at)).toBeGreaterThanOrEqual(2_000))

    // v3 fails its health check: halted in wave 1, rolled back on its own, nobody else stopped serving v2.
    await publish('v3', false)
    const bad = JSON.parse((await runCli(['rollout', 'start', 'app@prod', '--to', 'v3', '--by', 'rack', '--max-unavailable', '25%', '--bake', '2s', '--auto-rollback', '--json', ...pub])).stdout) as { plan: { waves: { sample: string[] }[] } }
    const canary = Number(bad.plan.waves[0]!.sample[0]!.slice(4))
    const downloadedBefore = await fetchMetric(fleet.fetchers[canary]!.info.metrics as string, 'shoal_fetcher_downloaded_bytes_total')
    const others: (string | null)[][] = []
    sampling = true
    const watchOthers = (async () => {
      while (sampling) {
        others.push(await Promise.all(ports.map((_, k) => (k === canary ? Promise.resolve('skip') : serving(k)))))
        await new Promise((r) => setTimeout(r, 100))
      }
    })()
    const halted = await waitFor('halted', async () => {
      const s = await status()
      return s.plan?.progress.state === 'halted' ? s : undefined
    }, 90_000)
    expect(halted.plan!.progress.wave).toBe(0)
    expect(halted.plan!.progress.rolledBack).toBe(true)
    expect(halted.plan!.progress.reason).toContain('UNHEALTHY')
    const haltedAt = Date.now()
    await waitFor('canary serves v2 again', async () => (await serving(canary)) === 'v2', 30_000)
    expect(Date.now() - haltedAt).toBeLessThan(10_000)
    sampling = false
    await watchOthers
    for (const row of others) expect(row.filter((v) => v !== 'skip' && v !== 'v2')).toEqual([])
    // Back on v2 from what it held: the canary downloaded v3 (1 MiB, to stage it), not v2 again.
    const downloadedAfter = await fetchMetric(fleet.fetchers[canary]!.info.metrics as string, 'shoal_fetcher_downloaded_bytes_total')
    expect(downloadedAfter - downloadedBefore).toBeLessThan(1.5 * (1 << 20))
    const history = await runCli(['rollout', 'history', 'app@prod', '--tracker', fleet.tracker.url, '--token', TOKENS.viewer])
    expect(history.stdout).toContain('[halted, rolled back]')
  }, 420_000)

  it('kill -9 of fetchers mid-rollout: lost within three heartbeats, counted by the halt rule; restarted, they catch up', async () => {
    const fleet = await startFleet(await tempDir(), { hosts: 4, trackerArgs: ['--lost-after', '2'] })
    fleets.push(fleet)
    const pub = ['--tracker', fleet.tracker.url, '--token', TOKENS.publisher]
    await fleet.publish('1.0.0', 64 << 10)
    await waitFor('4 hosts running', async () => (await fleet.status()).byState.running === 4)
    const tree = join(fleet.dir, 'tree-2')
    await mkdir(tree, { recursive: true })
    await writeFile(join(tree, 'payload.bin'), Buffer.alloc(64 << 10, 2))
    expect((await runCli(['publish', tree, '-r', 'app', '--version', '2.0.0', '--seeder', fleet.seeder.url, ...pub, '-q'])).code).toBe(0)
    const start = await runCli(['rollout', 'start', 'app@prod', '--to', '2.0.0', '--waves', '1,100%', '--max-unavailable', '100%', '--bake', '3s', '--halt-after', '2', '--json', ...pub])
    expect(start.code, start.stderr).toBe(0)
    const plan = JSON.parse(start.stdout) as { plan: { waves: { sample: string[] }[] } }
    const wave2 = plan.plan.waves[1]!.sample.slice(0, 2).map((h) => Number(h.slice(4)))
    // Two hosts of wave 2 die while wave 1 bakes.
    await waitFor('wave 1 baking', async () => ((await fleet.status()) as unknown as Status).plan?.progress.bakeUntil !== null || false, 60_000)
    const killedAt = performance.now()
    for (const k of wave2) fleet.fetchers[k]!.child.kill('SIGKILL')
    const halted = (await waitFor('halted on 2 lost hosts', async () => {
      const s = (await fleet.status()) as unknown as Status
      return s.plan?.progress.state === 'halted' ? s : undefined
    }, 60_000)) as Status
    expect(halted.byState.lost, JSON.stringify(halted)).toBe(2)
    // The canary runs 2.0.0; the live host of wave 2 was activated with its wave (it may still be starting).
    expect(halted.byState.running).toBeGreaterThanOrEqual(1)
    expect(halted.plan!.progress.wave).toBe(1)
    expect(halted.plan!.progress.reason).toMatch(/2 of 3 hosts in wave 2 failed.*\(lost\)/)
    // Lost within three heartbeat intervals of the kill (--lost-after 2 s), then halted at once.
    expect(performance.now() - killedAt).toBeLessThan(3 * 2_000 + 3_000)
    for (const k of wave2) await fleet.startFetcher(k)
    await waitFor('restarted hosts catch up on 2.0.0', async () => {
      const s = (await fleet.status()) as unknown as Status
      return s.byState.running === 4 && !s.byState.lost
    }, 60_000)
  }, 180_000)
})
