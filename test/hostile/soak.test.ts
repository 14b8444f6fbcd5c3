import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { afterEach, describe, expect, it } from 'vitest'
import { HOST_KEY, startFleet, TOKENS, waitFor, type Fleet } from '../helpers/fleet.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const fleets: Fleet[] = []
afterEach(() => {
  for (const f of fleets.splice(0)) f.kill()
})

const CLIENTS = fileURLToPath(new URL('./hostile-clients.ts', import.meta.url))
/** Budget for the tracker's resident memory under attack. */
const RSS_BUDGET_MB = 300
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** Builds dist/ when any source file is newer than it (CI's npm ci has just built it). */
async function ensureBuilt(): Promise<void> {
  const newest = (dir: string): number => {
    let t = 0
    for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs)
    return t
  }
  const built = existsSync(join(ROOT, 'dist/cli/main.js')) ? statSync(join(ROOT, 'dist/cli/main.js')).mtimeMs : 0
  if (newest(join(ROOT, 'src')) > built) execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' })
}
const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length
// 20,000 slow sockets come from two processes of 10,000 (a process here may open 20,000 files).
const SLOW = 20_000

describe('the tracker under hostile clients (issue 12: soak)', () => {
  it(`stays under ${RSS_BUDGET_MB} MB with 300 stalled event-stream readers, ${SLOW} slow sockets and 100,000 flood announces from 2,000 failing hosts' worth of traffic, while an honest rollout completes`, async () => {
    await ensureBuilt()
    // The tracker as shipped (dist/), so its memory is the product's, not the test loader's.
    const fleet = await startFleet(await tempDir(), { hosts: 0, trackerBuild: 'dist' })
    fleets.push(fleet)
    const tracker = fleet.tracker.child.pid!
    const v1 = await fleet.publish('1.0.0', 4 << 20)
    const facts = await fleet.get(`/v1/bundles/${v1.digest}`)
    const cfg = { slow: SLOW / 2, slowFirstIp: 10, sse: 300, flood: 100_000, failingHosts: 2000, hostKey: HOST_KEY, viewerToken: TOKENS.viewer, infoHash: facts.infoHash, release: 'app', channel: 'prod', seconds: 45, maxSeconds: 240 }
    const start = (c: typeof cfg) => {
      const child = spawn(process.execPath, ['--import', 'tsx', CLIENTS, fleet.tracker.url, JSON.stringify(c)], { stdio: ['ignore', 'pipe', 'inherit'] })
      fleet.children.push(child)
      return child
    }
    const attacker = start(cfg)
    // The second holds its slow sockets as long as the first runs.
    const second = start({ ...cfg, slowFirstIp: 50, sse: 0, flood: 0, failingHosts: 0, seconds: 240 })
    let last: Record<string, number | boolean> = {}
    let lastSecond: Record<string, number | boolean> = {}
    createInterface({ input: attacker.stdout! }).on('line', (l) => (last = JSON.parse(l) as typeof last))
    createInterface({ input: second.stdout! }).on('line', (l) => (lastSecond = JSON.parse(l) as typeof lastSecond))
    const [attackerDone, exited] = [attacker, second].map((c) => new Promise<void>((r) => c.once('exit', () => r())))

    let maxRss = 0
    let maxFds = 0
    const healthMs: number[] = []
    const sampler = setInterval(() => {
      try {
        maxRss = Math.max(maxRss, rssMb(tracker))
        maxFds = Math.max(maxFds, fds(tracker))
      } catch {
        /* the tracker is gone: the assertions below say so */
      }
    }, 200)
    const prober = setInterval(() => {
      const t0 = performance.now()
      fetch(`${fleet.tracker.url}/v1/health`, { signal: AbortSignal.timeout(5000) }).then(
        (r) => void healthMs.push(r.ok ? performance.now() - t0 : Infinity),
        () => void healthMs.push(Infinity),
      )
    }, 1000)
    try {
      await waitFor('the attack to be in full swing', async () => {
        if ((last.sseOpen as number) >= 250 && (last.slowOpen as number) >= 1000 && (last.announces as number) > 5000 && (last.reports as number) > 0) return true
        throw new Error(JSON.stringify(last))
      }, 60_000)
      // The honest part: two hosts join and a new version rolls out to them, under attack.
      await fleet.startFetcher(0)
      await fleet.startFetcher(1)
      const v2 = await fleet.publish('2.0.0', 8 << 20)
      await waitFor('the honest hosts running v2', async () => {
        const reports = await Promise.all(['host0', 'host1'].map((h) => fleet.get(`/v1/hosts/${h}/reports/${v2.digest}`)))
        return reports.every((r) => r.state === 'running')
      }, 90_000)
      await attackerDone
      second.kill('SIGTERM')
      await exited
    } finally {
      clearInterval(sampler)
      clearInterval(prober)
    }
    console.log(`soak: tracker peak RSS ${maxRss.toFixed(0)} MB, peak fds ${maxFds}, attackers ${JSON.stringify(last)} ${JSON.stringify(lastSecond)}, health p100 ${Math.max(...healthMs).toFixed(0)} ms over ${healthMs.length} probes`)
    expect(fleet.tracker.child.exitCode).toBe(null)
    expect(last.announces).toBeGreaterThanOrEqual(100_000)
    expect(maxRss).toBeLessThan(RSS_BUDGET_MB)
    expect(maxFds).toBeLessThan(12_000)
    // Honest requests kept being answered: no probe failed or waited past the headers timeout.
    expect(healthMs.length).toBeGreaterThan(20)
    expect(Math.max(...healthMs)).toBeLessThan(5000)
    // The flooder holds at most 4 peers in the swarm.
    const scrape = await fetch(`${fleet.tracker.url}/scrape/${TOKENS.seeder}?info_hash=${[...Buffer.from(facts.infoHash, 'hex')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}`)
    const text = Buffer.from(await scrape.arrayBuffer()).toString('latin1')
    expect(Number(/10:incompletei(\d+)e/.exec(text)?.[1])).toBeLessThanOrEqual(4)
  }, 420_000)
})
