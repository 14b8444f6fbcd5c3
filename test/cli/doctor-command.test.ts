import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { hostToken, startFleet, type Fleet } from '../helpers/fleet.js'
import { runCli } from '../helpers/run-cli.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { freePort as deadPort } from '../helpers/free-port.js'

const tempDir = useTempDirs()
const fleets: Fleet[] = []
afterEach(() => {
  for (const f of fleets.splice(0)) f.kill()
})

type Report = { ok: boolean; checks: { check: string; ok: boolean; detail: string }[] }

describe('shoal doctor (issue 16)', () => {
  it('passes on a prepared host (data dir, snapshotter, agent, tracker reachable with its clock and the host\'s own token, the seeder\'s web seed), one line per check', async () => {
    const dir = await tempDir()
    const fleet = await startFleet(dir, { hosts: 0 })
    fleets.push(fleet)
    const args = ['doctor', '--data-dir', join(dir, 'host'), '--snapshotter', 'dir', '--agent', 'process', '--tracker', fleet.tracker.url, '--seeder', fleet.seeder.url, '--host-id', 'h1', '--token', hostToken('h1')]
    const text = await runCli(args)
    expect(text.code, text.stdout + text.stderr).toBe(0)
    const lines = text.stdout.trim().split('\n')
    expect(lines.map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(['ok node', 'ok data-dir', 'ok snapshotter', 'ok agent', 'ok tracker', 'ok clock', 'ok tracker-auth', 'ok seeder', 'ok seeder-auth'])
    // Another host's token: named, and the exit code says so.
    const wrong = JSON.parse((await runCli([...args.slice(0, -1), hostToken('h2'), '--json'])).stdout) as Report
    expect(wrong.ok).toBe(false)
    expect(wrong.checks.find((c) => c.check === 'tracker-auth')).toMatchObject({ ok: false, detail: "the token is not host h1's" })
  })

  it('names the missing piece: a kernel without overlayfs, a tracker that cannot be reached', async () => {
    const dir = await tempDir()
    const noOverlay = join(dir, 'filesystems')
    await writeFile(noOverlay, 'nodev\tsysfs\nnodev\tproc\n\text4\n')
    const r = await runCli(['doctor', '--data-dir', join(dir, 'host'), '--snapshotter', 'overlay', '--proc-filesystems', noOverlay, '--tracker', `http://127.0.0.1:${await deadPort()}`, '--json'])
    expect(r.code).toBe(1)
    const report = JSON.parse(r.stdout) as Report
    expect(report.ok).toBe(false)
    const failed = report.checks.filter((c) => !c.ok)
    expect(failed.map((c) => c.check)).toEqual(['snapshotter', 'tracker'])
    expect(failed[0]!.detail).toMatch(process.getuid?.() === 0 ? /no overlayfs/ : /needs root/)
    expect(failed[1]!.detail).toMatch(/unreachable: .*ECONNREFUSED/)
    const text = await runCli(['doctor', '--data-dir', join(dir, 'host'), '--snapshotter', 'overlay', '--proc-filesystems', noOverlay])
    expect(text.code).toBe(1)
    expect(text.stdout).toMatch(/^FAIL {2}snapshotter +overlay: /m)
  })
})
