import bencode from 'bencode'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startFleet, TOKENS, waitFor, type Fleet } from '../helpers/fleet.js'
import { runCli } from '../helpers/run-cli.js'
import { startSeeder } from '../helpers/start-tracker.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { mkdir, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'

const tempDir = useTempDirs()
let fleet: Fleet | undefined
afterEach(() => fleet?.kill())

const HOSTS = 6

describe('several origins (issue 19)', () => {
  it('a bundle uploaded to seeder a reaches seeder b through the swarm; a killed with -9 mid-rollout: every host completes from b and the swarm; a publish with a down still succeeds', async () => {
    const dir = await tempDir()
    // Slow origins, so the rollout is still under way when a dies.
    fleet = await startFleet(dir, { hosts: 0, seederArgs: ['--name', 'origin-a', '--up-limit', '3MiB'] })
    const b = await startSeeder(join(dir, 'seeder-b'), join(dir, 'tokens'), fleet.tracker.url, TOKENS.seeder, ['--name', 'origin-b', '--up-limit', '3MiB'])
    fleet.children.push(b.child)
    const a = fleet.seeder

    const { digest } = await fleet.publish('1', 12 << 20)
    // b fetches it from a (and any peer) on its own and registers as a second origin.
    const bundle = await waitFor('seeder b registered for the bundle', async () => {
      const rec = (await fleet!.get(`/v1/bundles/${digest}`)) as { seeders: string[]; webSeeds: string[] }
      return rec.seeders?.includes('origin-b') ? rec : undefined
    }, 60_000)
    expect(bundle.seeders).toEqual(['origin-a', 'origin-b'])
    expect(bundle.webSeeds).toHaveLength(2)
    // The torrent hosts get lists both web seeds.
    const torrent = bencode.decode(Buffer.from(await (await fetch(`${fleet.tracker.url}/v1/bundles/${digest}/torrent`, { headers: { authorization: `Bearer ${TOKENS.viewer}` } })).arrayBuffer())) as { 'url-list': Uint8Array[] }
    const seeds = torrent['url-list'].map((u) => Buffer.from(u).toString())
    expect(seeds.some((u) => u.startsWith(a.url)) && seeds.some((u) => u.startsWith(b.url))).toBe(true)

    await Promise.all(Array.from({ length: HOSTS }, (_, k) => fleet!.startFetcher(k)))
    // a dies as soon as hosts are pulling, before any has the whole bundle.
    await waitFor('hosts downloading', async () => {
      const s = await fleet!.status()
      return (s.byState.downloading ?? 0) > 0 && (s.byState.running ?? 0) === 0
    }, 30_000)
    a.child.kill('SIGKILL')
    const done = await waitFor('every host running', async () => {
      const s = await fleet!.status()
      return s.byState.running === HOSTS ? s : undefined
    }, 120_000)
    expect(done.failures).toEqual([])

    // A publish naming both seeders while a is down goes to b.
    const tree = join(dir, 'tree-2')
    await mkdir(tree, { recursive: true })
    await writeFile(join(tree, 'payload.bin'), randomBytes(1 << 20))
    const r = await runCli(['publish', tree, '-r', 'app', '--version', '2', '-c', 'prod', '--seeder', `${a.url},${b.url}`, '--tracker', fleet.tracker.url, '--token', TOKENS.publisher, '--json', '-q'])
    expect(r.code, `${r.stderr}${r.stdout}`).toBe(0)
    const v2 = JSON.parse(r.stdout) as { digest: string }
    const after = await waitFor('every host running version 2', async () => {
      const s = (await fleet!.status()) as Awaited<ReturnType<Fleet['status']>> & { digest: string }
      return s.digest === v2.digest && s.byState.running === HOSTS ? s : undefined
    }, 60_000)
    expect(after.failures).toEqual([])
  }, 150_000)
})
