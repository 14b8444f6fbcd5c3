import type { ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { mkdir, writeFile as write } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { callApi, fakeDigest, hostToken, TOKENS, TOKENS_FILE, waitFor } from '../helpers/fleet.js'
import { runCli } from '../helpers/run-cli.js'
import { startPostgres, whyNoPostgres, type PrivatePostgres } from '../helpers/postgres.js'
import { startRedis, whyNoRedis, type PrivateRedis } from '../helpers/redis.js'
import { startDaemon, startSeeder } from '../helpers/start-tracker.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { fetchMetric } from '../helpers/metrics.js'

const why = whyNoPostgres()
const pgi: PrivatePostgres | undefined = why ? undefined : await startPostgres()
afterAll(() => pgi?.stop())
const noRedis = whyNoRedis()
const redis: PrivateRedis | undefined = noRedis || why ? undefined : await startRedis()
afterAll(() => redis?.stop())
const tempDir = useTempDirs()
const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
})
const [digest, call] = [fakeDigest, callApi]

async function replica(store: string, tokens: string, extra: string[] = []): Promise<{ url: string; child: ChildProcess }> {
  const prev = process.env.SHOAL_STORE
  process.env.SHOAL_STORE = store // the way an operator keeps the password out of ps
  try {
    const r = await startDaemon('tracker', ['--tokens', tokens, ...extra])
    children.push(r.child)
    return r
  } finally {
    if (prev === undefined) delete process.env.SHOAL_STORE
    else process.env.SHOAL_STORE = prev
  }
}

describe('tracker replicas over one PostgreSQL (issue 19, first step)', () => {
  it.skipIf(!pgi)(`three replicas: a move on one is read on the others; kill -9 one mid-reports: every acknowledged report is on the survivors; a long-poll on one wakes for a move made through another${why ? ` (skipped: ${why})` : ''}`, async () => {
    const url = await pgi!.createDatabase()
    const tokens = join(await tempDir(), 'tokens')
    await writeFile(tokens, TOKENS_FILE)
    const [a, b, c] = await Promise.all([replica(url, tokens), replica(url, tokens), replica(url, tokens)])
    expect((await call(a.url, 'PUT', '/v1/releases/web/versions/1', TOKENS.publisher, { digest: digest(1) })).status).toBe(201)
    expect((await call(b.url, 'PUT', '/v1/releases/web/versions/1', TOKENS.publisher, { digest: digest(2) })).status).toBe(409) // immutable across replicas
    expect((await call(b.url, 'PUT', '/v1/channels/web/prod', TOKENS.publisher, { version: '1' })).status).toBe(200)
    const channel = (await (await call(c.url, 'GET', '/v1/channels/web/prod', TOKENS.viewer)).json()) as { version: string }
    expect(channel.version).toBe('1')
    for (let h = 0; h < 8; h++) expect((await call([a, b, c][h % 3]!.url, 'PUT', `/v1/hosts/h${h}`, hostToken(`h${h}`), { follows: ['web@prod'] })).status).toBe(200)

    // Hosts report to replica a until it is killed; then the survivors must hold all it acknowledged.
    const acked = new Map<string, number>()
    let n = 0
    await Promise.all(
      Array.from({ length: 8 }, async (_, h) => {
        for (let step = 1; step <= 100; step++) {
          try {
            const r = await call(a.url, 'POST', `/v1/hosts/h${h}/reports`, hostToken(`h${h}`), { digest: digest(1), state: 'downloading', bytesDone: step })
            if (r.status !== 200) return
            acked.set(`h${h}`, step)
            if (++n === 120) a.child.kill('SIGKILL')
          } catch {
            return
          }
        }
      }),
    )
    expect(n).toBeGreaterThanOrEqual(120)
    for (const survivor of [b, c]) {
      for (const [host, step] of acked) {
        const r = await call(survivor.url, 'GET', `/v1/hosts/${host}/reports/${digest(1)}`, TOKENS.viewer)
        expect(r.status, host).toBe(200)
        expect(((await r.json()) as { bytesDone: number }).bytesDone, host).toBeGreaterThanOrEqual(step)
      }
    }
    // The two survivors answer the same status.
    const status = async (base: string) => {
      const s = (await (await call(base, 'GET', '/v1/rollouts/web/prod/status', TOKENS.viewer)).json()) as { hosts: number; byState: unknown; bytesFromOrigin: number }
      return JSON.stringify([s.hosts, s.byState, s.bytesFromOrigin])
    }
    // The two survivors answer the same status. A write the killed replica had sent may still
    // commit on the server just after the kill, so they agree once that has landed (bounded).
    const seen = await waitFor('the survivors to answer the same status', async () => {
      const [sb, sc] = [await status(b.url), await status(c.url)]
      return sb === sc && sb
    }, 10_000)
    expect(JSON.parse(seen)[0]).toBe(8)
    // The killed replica, started again over the same store, serves the same answers.
    const again = await replica(url, tokens)
    expect(await status(again.url)).toBe(seen)

    // A host long-polling replica c learns of a move made through replica b at once (NOTIFY),
    // not when its 25-second poll runs out.
    const first = (await (await call(c.url, 'GET', '/v1/hosts/h0/targets', hostToken('h0'))).json()) as { etag: string }
    const started = performance.now()
    const polled = call(c.url, 'GET', `/v1/hosts/h0/targets?since=${encodeURIComponent(first.etag)}&wait=25`, hostToken('h0'))
    expect((await call(b.url, 'PUT', '/v1/releases/web/versions/2', TOKENS.publisher, { digest: digest(2) })).status).toBe(201)
    expect((await call(b.url, 'PUT', '/v1/channels/web/prod', TOKENS.publisher, { version: '2' })).status).toBe(200)
    const next = (await (await polled).json()) as { targets: { version: string }[] }
    expect(next.targets.map((t) => t.version)).toEqual(['2'])
    expect(performance.now() - started).toBeLessThan(10_000)
  }, 120_000)

  it.skipIf(!pgi)(`a rollout to 8 fetchers given all three replicas (swarms shared in Redis): kill -9 the replica they announce to mid-rollout, every host still completes, and a rollout watcher on it reconnects to another and sees the end${why ? ` (skipped: ${why})` : ''}${noRedis ? ` (Redis part SKIPPED: ${noRedis})` : ''}`, async () => {
    const url = await pgi!.createDatabase()
    const dir = await tempDir()
    const tokens = join(dir, 'tokens')
    await writeFile(tokens, TOKENS_FILE)
    const replicas = await Promise.all([0, 1, 2].map(() => replica(url, tokens, redis ? ['--redis', redis.url] : [])))
    const all = replicas.map((r) => r.url).join(',')
    const seeder = await startSeeder(join(dir, 'seeder'), tokens, all, TOKENS.seeder)
    children.push(seeder.child)
    const hosts = 8
    const tree = join(dir, 'tree')
    await mkdir(tree)
    await write(join(tree, 'payload.bin'), randomBytes(8 << 20))
    const published = await runCli(['publish', tree, '-r', 'app', '--version', '1', '-c', 'prod', '--seeder', seeder.url, '--tracker', all, '--token', TOKENS.publisher, '--json', '-q'])
    expect(published.code, published.stderr).toBe(0)
    const status = async (base: string) => (await (await call(base, 'GET', '/v1/rollouts/app/prod/status', TOKENS.viewer)).json()) as { byState: Record<string, number> }
    // Rollout watchers given every replica, each starting on a random one, until one watches through replica 0.
    const streamsOn = async (base: string) => (await fetchMetric(`${base}/metrics`, 'shoal_tracker_event_streams')) || 0
    const watchers: Array<Promise<{ code: number | null; stdout: string; stderr: string }>> = []
    for (let i = 0; i < 40 && (await streamsOn(replicas[0]!.url)) === 0; i++) {
      const before = (await Promise.all(replicas.map((r) => streamsOn(r.url)))).reduce((a, b) => a + b, 0)
      watchers.push(runCli(['rollout', 'status', 'app@prod', '--watch', '--tracker', all, '--token', TOKENS.viewer], { timeoutMs: 200_000 }))
      await waitFor('the watcher connected', async () => (await Promise.all(replicas.map((r) => streamsOn(r.url)))).reduce((a, b) => a + b, 0) > before, 10_000)
    }
    expect(await streamsOn(replicas[0]!.url)).toBeGreaterThan(0)
    // The hosts start once the watchers are on (the channel already points at version 1).
    await Promise.all(
      Array.from({ length: hosts }, async (_, k) => {
        await mkdir(join(dir, `host${k}`), { recursive: true })
        const f = await startDaemon('fetcher', [
          '--data-dir', join(dir, `host${k}`), '--tracker', all, '--token', hostToken(`host${k}`), '--follow', 'app@prod', '--host-id', `host${k}`,
          '--peer-port', '0', '--listen-host', '127.0.0.1', '--agent', 'none', '--down-limit', '2MiB',
        ])
        children.push(f.child)
      }),
    )
    await waitFor('bytes moving on some host', async () => ((await status(replicas[1]!.url)).byState.downloading ?? 0) > 0, 60_000)
    replicas[0]!.child.kill('SIGKILL') // first in every list: the one the swarm announces to
    const before = await status(replicas[1]!.url)
    expect(before.byState.running ?? 0).toBeLessThan(hosts) // the kill really is mid-rollout
    const done = await waitFor(`${hosts} hosts running on both survivors`, async () => {
      const [b, c] = [await status(replicas[1]!.url), await status(replicas[2]!.url)]
      return b.byState.running === hosts && c.byState.running === hosts && b
    }, 120_000)
    expect(done.byState.running).toBe(hosts)
    // Every watcher (in a pipe: it ends when every host is done) saw the end, the one on replica 0 too.
    for (const w of await Promise.all(watchers)) {
      expect(w.code, w.stderr).toBe(0)
      expect(w.stdout).toMatch(/100(\.0)?% running|8\/8/)
    }
  }, 240_000)
})

describe('the control plane losing PostgreSQL mid-rollout (issue 19)', () => {
  it.skipIf(!pgi)(`PostgreSQL stopped while hosts download: the tracker answers 503 STORE_UNAVAILABLE, hosts keep downloading from the swarm, and once it is back every host completes with nothing lost${why ? ` (skipped: ${why})` : ''}`, async () => {
    const url = await pgi!.createDatabase()
    const dir = await tempDir()
    const tokens = join(dir, 'tokens')
    await writeFile(tokens, TOKENS_FILE)
    const t = await replica(url, tokens)
    const seeder = await startSeeder(join(dir, 'seeder'), tokens, t.url, TOKENS.seeder)
    children.push(seeder.child)
    const tree = join(dir, 'tree')
    await mkdir(tree)
    await write(join(tree, 'payload.bin'), randomBytes(12 << 20))
    const published = await runCli(['publish', tree, '-r', 'app', '--version', '1', '-c', 'prod', '--seeder', seeder.url, '--tracker', t.url, '--token', TOKENS.publisher, '--json', '-q'])
    expect(published.code, published.stderr).toBe(0)
    const hosts = 4
    const metrics: string[] = []
    await Promise.all(
      Array.from({ length: hosts }, async (_, k) => {
        await mkdir(join(dir, `host${k}`), { recursive: true })
        const port = 20000 + Math.floor(Math.random() * 20000)
        const f = await startDaemon('fetcher', [
          '--data-dir', join(dir, `host${k}`), '--tracker', t.url, '--token', hostToken(`host${k}`), '--follow', 'app@prod', '--host-id', `host${k}`,
          '--peer-port', '0', '--listen-host', '127.0.0.1', '--agent', 'none', '--down-limit', '1MiB', '--metrics-port', String(port),
        ])
        children.push(f.child)
        metrics.push(`http://127.0.0.1:${port}/metrics`)
      }),
    )
    const downloaded = async () => {
      let sum = 0
      for (const m of metrics) sum += (await fetchMetric(m, 'shoal_fetcher_downloaded_bytes_total')) || 0
      return sum
    }
    const status = () => call(t.url, 'GET', '/v1/rollouts/app/prod/status', TOKENS.viewer)
    await waitFor('bytes moving', async () => (await downloaded()) > 1 << 20, 60_000)
    pgi!.halt()
    try {
      const away = await status()
      expect([away.status, ((await away.json()) as { code: string }).code]).toEqual([503, 'STORE_UNAVAILABLE'])
      const before = await downloaded()
      // The swarm does not need the registry: peers keep trading while PostgreSQL is away.
      await waitFor('hosts downloading while PostgreSQL is away', async () => (await downloaded()) >= before + (2 << 20), 60_000)
      expect((await status()).status).toBe(503)
    } finally {
      pgi!.start()
    }
    const done = await waitFor(`${hosts} hosts running`, async () => {
      const r = await status()
      if (r.status !== 200) return undefined
      const s = (await r.json()) as { byState: Record<string, number>; failures: unknown[] }
      return s.byState.running === hosts ? s : undefined
    }, 120_000)
    expect(done.failures).toEqual([])
  }, 240_000)
})
