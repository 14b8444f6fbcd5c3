import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { deriveHostToken } from '../../src/core/index.js'
import { freePort } from './free-port.js'
import { runCli } from './run-cli.js'
import { startDaemon, startSeeder, startTracker, type DaemonBuild } from './start-tracker.js'
import { fetchMetric } from './metrics.js'

/** The fleet's host key: every host's own token is derived from it (see hostToken). */
export const HOST_KEY = 'fleet-host-key-0123456789abcdef0123456789'
/** Host `id`'s token: the tracker and seeder accept it for that host only. */
export const hostToken = (id: string): string => deriveHostToken(HOST_KEY, id)
export const TOKENS = { publisher: 'pub-token-0123456789abcdef', seeder: 'seed-token-0123456789abcdef', host: hostToken('host0'), viewer: 'view-token-0123456789abcdef' }
/** The tokens file every test fleet uses. */
export const TOKENS_FILE = `publisher ${TOKENS.publisher} ci\nseeder ${TOKENS.seeder} origin\nhost-key ${HOST_KEY} fleet\nviewer ${TOKENS.viewer} eng\n`

/** A made-up digest numbered `i`, for registry tests. */
export const fakeDigest = (i: number): string => `sha256:${i.toString(16).padStart(64, '0')}`
/** One API request to a tracker with a bearer token and an optional JSON body. */
export const callApi = (base: string, method: string, path: string, token: string, body?: unknown): Promise<Response> =>
  fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined })

/** Polls `probe` every 100 ms until it returns a truthy value; fails after `boundMs` with the last value. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, boundMs = 60_000): Promise<T> {
  const until = performance.now() + boundMs
  let last: unknown
  for (;;) {
    try {
      const v = await probe()
      if (v) return v
      last = v
    } catch (err) {
      last = err
    }
    if (performance.now() > until) throw new Error(`Timed out after ${boundMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export interface Fleet {
  dir: string
  tracker: { url: string; child: ChildProcess }
  seeder: { url: string; child: ChildProcess }
  fetchers: { id: string; dataDir: string; child: ChildProcess; info: Record<string, unknown> }[]
  children: ChildProcess[]
  startTracker(port?: string): Promise<void>
  startSeeder(): Promise<void>
  startFetcher(k: number, extra?: string[], dataDir?: string): Promise<void>
  /** Publishes a tree with one random file of `size` bytes as app@`version` and moves prod to it. */
  publish(version: string, size: number): Promise<{ digest: string; size: number }>
  get(path: string): Promise<any> // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON for assertions
  status(): Promise<{ byState: Record<string, number>; percentRunning: number; failures: { code: string; count: number }[] }>
  seederMetric(name: string): Promise<number>
  kill(): void
}

/** A tracker, a seeder and N `shoal fetcher` processes on loopback, following app@prod. */
export async function startFleet(
  dir: string,
  opts: { hosts: number; fetcherArgs?: string[]; seederArgs?: string[]; trackerArgs?: string[]; trackerBuild?: DaemonBuild; fetcherExtra?: (k: number) => { args?: string[]; env?: Record<string, string> } },
): Promise<Fleet> {
  const tokens = join(dir, 'tokens')
  await writeFile(tokens, TOKENS_FILE)
  const children: ChildProcess[] = []
  const fleet: Fleet = {
    dir,
    tracker: undefined as never,
    seeder: undefined as never,
    fetchers: [],
    children,
    async startTracker(port) {
      // Below the ephemeral range (see freePort): a tracker restarted on its port after kill -9
      // must not find it taken as the local port of some other test's outgoing connection.
      const chosen = port ?? (opts.trackerArgs?.includes('--port') ? undefined : String(await freePort()))
      const t = await startTracker(join(dir, 'tracker'), tokens, [...(chosen ? ['--port', chosen] : []), ...(opts.trackerArgs ?? [])], opts.trackerBuild)
      children.push(t.child)
      fleet.tracker = t
    },
    async startSeeder() {
      const s = await startSeeder(join(dir, 'seeder'), tokens, fleet.tracker.url, TOKENS.seeder, opts.seederArgs ?? [])
      children.push(s.child)
      fleet.seeder = s
    },
    async startFetcher(k, extra = [], dataDir = join(dir, `host${k}`)) {
      await mkdir(dataDir, { recursive: true })
      const f = await startDaemon('fetcher', [
        '--data-dir', dataDir, '--tracker', fleet.tracker.url, '--token', hostToken(`host${k}`), '--follow', 'app@prod', '--host-id', `host${k}`,
        '--peer-port', '0', '--listen-host', '127.0.0.1', '--agent', 'none', ...(opts.fetcherArgs ?? []), ...(opts.fetcherExtra?.(k).args ?? []), ...extra,
      ], 'source', opts.fetcherExtra?.(k).env)
      children.push(f.child)
      fleet.fetchers[k] = { id: `host${k}`, dataDir, child: f.child, info: f.info }
    },
    async publish(version, size) {
      const tree = join(dir, `tree-${version}`)
      await mkdir(tree, { recursive: true })
      await writeFile(join(tree, 'payload.bin'), randomBytes(size))
      const r = await runCli(['publish', tree, '-r', 'app', '--version', version, '-c', 'prod', '--seeder', fleet.seeder.url, '--tracker', fleet.tracker.url, '--token', TOKENS.publisher, '--json', '-q'])
      if (r.code !== 0) throw new Error(`publish failed (exit ${r.code}): ${r.stderr}${r.stdout}`)
      const out = JSON.parse(r.stdout) as { digest: string; size: number }
      return { digest: out.digest, size: out.size }
    },
    async get(path) {
      const r = await fetch(`${fleet.tracker.url}${path}`, { headers: { authorization: `Bearer ${TOKENS.viewer}` } })
      return r.json()
    },
    status: () => fleet.get('/v1/rollouts/app/prod/status'),
    seederMetric: (name) => fetchMetric(`${fleet.seeder.url}/metrics`, name),
    kill() {
      for (const c of children.splice(0)) c.kill('SIGKILL')
    },
  }
  await fleet.startTracker()
  await fleet.startSeeder()
  await Promise.all(Array.from({ length: opts.hosts }, (_, k) => fleet.startFetcher(k)))
  return fleet
}
