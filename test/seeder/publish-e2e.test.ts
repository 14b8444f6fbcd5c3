import type { ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/run-cli.js'
import { startSeeder, startTracker } from '../helpers/start-tracker.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { writeTree } from '../helpers/tree.js'

const tempDir = useTempDirs()
const PUB = 'pub-token-0123456789abcdef'
const SEED = 'seed-token-0123456789abcdef'
const VIEW = 'view-token-0123456789abcdef'
const helloApp = fileURLToPath(new URL('../../fixtures/hello-app', import.meta.url))
const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
})

describe('shoal publish (real tracker and seeder processes)', () => {
  it('shoal publish uploads, registers a signed version and moves the channel; again is a no-op; another tree under the same version is refused', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'tokens'), `publisher ${PUB} ci\nseeder ${SEED} origin\nviewer ${VIEW} eng\n`)
    const tracker = await startTracker(join(dir, 'tracker'), join(dir, 'tokens'))
    children.push(tracker.child)
    const seeder = await startSeeder(join(dir, 'seeder'), join(dir, 'tokens'), tracker.url, SEED)
    children.push(seeder.child)
    expect((await runCli(['keygen', '-o', join(dir, 'ci.key')])).code).toBe(0)

    const args = ['publish', helloApp, '-r', 'hello', '--version', '1.0.0', '-c', 'prod', '--seeder', seeder.url, '--tracker', tracker.url, '--sign', join(dir, 'ci.key'), '--json', '-q']
    const first = await runCli(args, { env: { SHOAL_TOKEN: PUB } })
    expect(first.code, first.stderr).toBe(0)
    const out = JSON.parse(first.stdout)
    expect(out).toMatchObject({ ok: true, release: 'hello', version: '1.0.0', newVersion: true, rollout: { toVersion: '1.0.0', fromVersion: null } })

    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON read in assertions
    const get = async (path: string): Promise<any> => (await fetch(`${tracker.url}${path}`, { headers: { authorization: `Bearer ${VIEW}` } })).json()
    expect(await get('/v1/channels/hello/prod')).toMatchObject({ version: '1.0.0', digest: out.digest })
    expect(await get(`/v1/bundles/${out.digest}`)).toMatchObject({ seeders: ['origin'], hasTorrent: true, size: out.size })
    const version = await get('/v1/releases/hello/versions/1.0.0')
    expect(version.signature).toMatchObject({ release: 'hello', version: '1.0.0', digest: out.digest })
    const web = await fetch(`${seeder.url}/bundles/${out.digest.slice(7)}.tar`, { method: 'HEAD', headers: { authorization: `Bearer ${SEED}` } })
    expect(Number(web.headers.get('content-length'))).toBe(out.size)

    const again = await runCli(args, { env: { SHOAL_TOKEN: PUB } })
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout).newVersion).toBe(false)

    const other = await tempDir()
    await writeTree(other, { 'app.js': 'console.log("different")' })
    const conflict = await runCli(['publish', other, '-r', 'hello', '--version', '1.0.0', '--seeder', seeder.url, '--tracker', tracker.url, '--token', PUB, '-q'])
    expect(conflict.code).toBe(5)
    expect(conflict.stderr).toContain('VERSION_CONFLICT')
  })

  it('concurrent publishes of one version: the same tree twice both succeed (one created, one already there); two different trees, exactly one wins and the other is VERSION_CONFLICT', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'tokens'), `publisher ${PUB} ci\nseeder ${SEED} origin\nviewer ${VIEW} eng\n`)
    const tracker = await startTracker(join(dir, 'tracker'), join(dir, 'tokens'))
    children.push(tracker.child)
    const seeder = await startSeeder(join(dir, 'seeder'), join(dir, 'tokens'), tracker.url, SEED)
    children.push(seeder.child)
    const pub = (tree: string, version: string) => runCli(['publish', tree, '-r', 'app', '--version', version, '--seeder', seeder.url, '--tracker', tracker.url, '--json', '-q'], { env: { SHOAL_TOKEN: PUB } })

    const same = await Promise.all([pub(helloApp, '1'), pub(helloApp, '1')])
    expect(same.map((r) => r.code), same.map((r) => r.stderr + r.stdout).join('\n')).toEqual([0, 0])
    expect(same.map((r) => JSON.parse(r.stdout).newVersion).sort()).toEqual([false, true])

    const [a, b] = [await tempDir(), await tempDir()]
    await writeTree(a, { 'app.js': 'console.log("a")' })
    await writeTree(b, { 'app.js': 'console.log("b")' })
    const race = await Promise.all([pub(a, '2'), pub(b, '2')])
    expect(race.map((r) => r.code).sort()).toEqual([0, 5])
    const winner = JSON.parse(race.find((r) => r.code === 0)!.stdout).digest
    const loser = race.find((r) => r.code === 5)!
    expect(loser.stdout).toContain('VERSION_CONFLICT')
    const got = (await (await fetch(`${tracker.url}/v1/releases/app/versions/2`, { headers: { authorization: `Bearer ${VIEW}` } })).json()) as { digest: string }
    expect(got.digest).toBe(winner)
  }, 60_000)
})
