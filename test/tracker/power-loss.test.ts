import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { hostToken, TOKENS, TOKENS_FILE } from '../helpers/fleet.js'
import { startTracker } from '../helpers/start-tracker.js'

const children: ChildProcess[] = []
const cleanups: Array<() => void> = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
  for (const c of cleanups.splice(0).reverse()) c()
})

/** Why a power cut cannot be simulated here, or undefined when it can. */
function powerLossUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to loop-mount a file system'
  if (spawnSync('mkfs.ext4', ['-V']).status !== 0) return 'needs mkfs.ext4 (Debian e2fsprogs)'
  return undefined
}
const why = powerLossUnavailable()
const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`
const call = (base: string, method: string, path: string, token: string, body?: unknown) =>
  fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined })

describe('the tracker across a power cut (issue 17)', () => {
  // A copy of a loop-mounted file system's backing file, taken while the tracker runs, holds what
  // reached the "disk" and nothing of what sat in the page cache: what a power cut would leave.
  it.skipIf(why !== undefined)(`every acknowledged write is on a copy of the disk taken the moment after it${why ? ` (skipped: ${why})` : ''}`, async () => {
    const base = mkdtempSync(join(tmpdir(), 'shoal-powercut-'))
    const [image, copy, live, after] = ['fs.img', 'copy.img', 'live', 'after'].map((n) => join(base, n)) as [string, string, string, string]
    execFileSync('truncate', ['-s', '256M', image])
    execFileSync('mkfs.ext4', ['-q', '-F', image])
    execFileSync('mkdir', [live, after])
    execFileSync('mount', ['-o', 'loop', image, live])
    cleanups.push(() => {
      spawnSync('umount', ['-l', live])
      spawnSync('umount', ['-l', after])
      rmSync(base, { recursive: true, force: true })
    })
    writeFileSync(join(base, 'tokens'), TOKENS_FILE)
    const t = await startTracker(join(live, 'data'), join(base, 'tokens'))
    children.push(t.child)

    const acked = { versions: 0, moves: 0, hosts: 0, reports: new Map<string, number>() }
    for (let v = 1; v <= 10; v++) if ((await call(t.url, 'PUT', `/v1/releases/web/versions/${v}`, TOKENS.publisher, { digest: digest(v) })).ok) acked.versions = v
    for (let v = 1; v <= 10; v++) if ((await call(t.url, 'PUT', '/v1/channels/web/prod', TOKENS.publisher, { version: String(v) })).ok) acked.moves = v
    for (let h = 0; h < 20; h++) if ((await call(t.url, 'PUT', `/v1/hosts/h${h}`, hostToken(`h${h}`), { follows: ['web@prod'] })).ok) acked.hosts = h + 1
    await Promise.all(
      Array.from({ length: 20 }, async (_, h) => {
        for (let step = 1; step <= 10; step++) {
          const r = await call(t.url, 'POST', `/v1/hosts/h${h}/reports`, hostToken(`h${h}`), { digest: digest(10), state: 'downloading', bytesDone: step })
          if (r.ok) acked.reports.set(`h${h}`, step)
        }
      }),
    )
    // The power cut: the disk as it is now, while the tracker still runs.
    execFileSync('cp', ['--sparse=always', image, copy])
    t.child.kill('SIGKILL')
    expect(acked).toMatchObject({ versions: 10, moves: 10, hosts: 20 })
    expect(acked.reports.size).toBe(20)

    execFileSync('mount', ['-o', 'loop', copy, after]) // replays the journal, as a reboot would
    const back = await startTracker(join(after, 'data'), join(base, 'tokens'))
    children.push(back.child)
    const history = ((await (await call(back.url, 'GET', '/v1/channels/web/prod/history', TOKENS.viewer)).json()) as { rollouts: unknown[] }).rollouts
    expect(history).toHaveLength(10)
    expect(((await (await call(back.url, 'GET', '/v1/releases/web/versions', TOKENS.viewer)).json()) as { versions: unknown[] }).versions).toHaveLength(10)
    for (const [host, step] of acked.reports) {
      const r = await call(back.url, 'GET', `/v1/hosts/${host}/reports/${digest(10)}`, TOKENS.viewer)
      expect(r.status, host).toBe(200)
      expect(((await r.json()) as { bytesDone: number }).bytesDone, host).toBe(step)
    }
  }, 120_000)
})
