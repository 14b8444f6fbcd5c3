import type { ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { callApi, fakeDigest, hostToken, TOKENS, TOKENS_FILE } from '../helpers/fleet.js'
import { startDaemon } from '../helpers/start-tracker.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
})
const [digest, call] = [fakeDigest, callApi]

async function tracker(dir: string, failpoints = ''): Promise<{ url: string; child: ChildProcess; exited: Promise<void> }> {
  await writeFile(join(dir, 'tokens'), TOKENS_FILE)
  const prev = process.env.SHOAL_FAILPOINTS
  process.env.SHOAL_FAILPOINTS = failpoints // read by the child (only the CLI reads it)
  try {
    const t = await startDaemon('tracker', ['--data-dir', join(dir, 'data'), '--tokens', join(dir, 'tokens')])
    children.push(t.child)
    return { ...t, exited: new Promise((r) => t.child.once('exit', () => r())) }
  } finally {
    if (prev === undefined) delete process.env.SHOAL_FAILPOINTS
    else process.env.SHOAL_FAILPOINTS = prev
  }
}

/** 8 hosts following web@prod, each posting reports until the tracker dies; what was acknowledged. */
async function reportUntilDead(url: string): Promise<Map<string, number>> {
  const acked = new Map<string, number>()
  await Promise.all(
    Array.from({ length: 8 }, async (_, h) => {
      for (let step = 1; step <= 200; step++) {
        try {
          const r = await call(url, 'POST', `/v1/hosts/h${h}/reports`, hostToken(`h${h}`), { digest: digest(1), state: 'downloading', bytesDone: step })
          if (r.status !== 200) return
          acked.set(`h${h}`, step)
        } catch {
          return
        }
      }
    }),
  )
  return acked
}

describe('the tracker killed at its crash points (issue 17)', () => {
  it.each([
    ['tracker.report.before-write', 40],
    ['tracker.report.after-write', 40],
  ] as const)('killed at %s (hit %i) while 8 hosts report: every acknowledged report is there after a restart', async (point, n) => {
    const dir = await tempDir()
    const first = await tracker(dir, `${point}=kill@${n}`)
    await call(first.url, 'PUT', '/v1/releases/web/versions/1', TOKENS.publisher, { digest: digest(1) })
    await call(first.url, 'PUT', '/v1/channels/web/prod', TOKENS.publisher, { version: '1' })
    for (let h = 0; h < 8; h++) expect((await call(first.url, 'PUT', `/v1/hosts/h${h}`, hostToken(`h${h}`), { follows: ['web@prod'] })).status).toBe(200)
    const acked = await reportUntilDead(first.url)
    await first.exited
    expect(first.child.signalCode).toBe('SIGKILL') // it died at the point, not of something else
    const total = [...acked.values()].reduce((a, b) => a + b, 0)
    expect(total).toBeGreaterThanOrEqual(n - 1 - 8) // reports acknowledged before the n-th hit
    expect(total).toBeLessThan(n + 8) // and at most the in-flight few after it

    const second = await tracker(dir)
    for (const [host, step] of acked) {
      const r = await call(second.url, 'GET', `/v1/hosts/${host}/reports/${digest(1)}`, TOKENS.viewer)
      expect(r.status, host).toBe(200)
      expect(((await r.json()) as { bytesDone: number }).bytesDone, host).toBeGreaterThanOrEqual(step)
    }
    if (point.endsWith('after-write')) {
      // after-write means durable: the n reports that reached it are all there (each host's steps
      // are sequential, so its stored bytesDone counts its durable reports), replied to or not.
      let stored = 0
      for (let h = 0; h < 8; h++) {
        const r = await call(second.url, 'GET', `/v1/hosts/h${h}/reports/${digest(1)}`, TOKENS.viewer)
        if (r.status === 200) stored += ((await r.json()) as { bytesDone: number }).bytesDone
      }
      expect(stored).toBeGreaterThanOrEqual(n)
    }
  }, 60_000)

  it('on a slow disk a report is acknowledged only once written: killed while one write stalls, every acknowledged report is there', async () => {
    const dir = await tempDir()
    // 40 hosts post one report each (a later report of the same host would overwrite a lost one
    // and hide it). Writes 1-42 are the version, the channel move and the registrations; the
    // 50th is the 8th report, stalled for far longer than the rest of the run takes.
    const first = await tracker(dir, 'tracker.store.disk=stall(20000)@50')
    await call(first.url, 'PUT', '/v1/releases/web/versions/1', TOKENS.publisher, { digest: digest(1) })
    await call(first.url, 'PUT', '/v1/channels/web/prod', TOKENS.publisher, { version: '1' })
    for (let h = 0; h < 40; h++) expect((await call(first.url, 'PUT', `/v1/hosts/h${h}`, hostToken(`h${h}`), { follows: ['web@prod'] })).status).toBe(200)
    const acked: string[] = []
    const stop = new AbortController()
    await Promise.all(
      Array.from({ length: 40 }, async (_, h) => {
        try {
          const r = await fetch(`${first.url}/v1/hosts/h${h}/reports`, {
            method: 'POST',
            headers: { authorization: `Bearer ${hostToken(`h${h}`)}`, 'content-type': 'application/json' },
            body: JSON.stringify({ digest: digest(1), state: 'downloading', bytesDone: 1 }),
            signal: stop.signal,
          })
          if (r.status !== 200) return
          acked.push(`h${h}`)
          // All but the stalled one answered: pull the plug while it still waits for the disk.
          if (acked.length === 39) {
            first.child.kill('SIGKILL')
            stop.abort()
          }
        } catch {
          /* the one cut off */
        }
      }),
    )
    await first.exited
    expect(acked.length).toBeGreaterThanOrEqual(39)
    const second = await tracker(dir)
    const missing: string[] = []
    for (const host of acked) {
      if ((await call(second.url, 'GET', `/v1/hosts/${host}/reports/${digest(1)}`, TOKENS.viewer)).status !== 200) missing.push(host)
    }
    expect(missing).toEqual([])
  }, 60_000)

  it.each(['tracker.move.before-write', 'tracker.move.after-write'])('killed at %s while a channel moves: every acknowledged move is in the history, in order', async (point) => {
    const dir = await tempDir()
    const first = await tracker(dir, `${point}=kill@4`)
    for (let v = 1; v <= 6; v++) await call(first.url, 'PUT', `/v1/releases/web/versions/${v}`, TOKENS.publisher, { digest: digest(v) })
    let acked = 0
    for (let v = 1; v <= 6; v++) {
      try {
        const r = await call(first.url, 'PUT', '/v1/channels/web/prod', TOKENS.publisher, { version: String(v) })
        if (r.status === 200) acked = v
        else break
      } catch {
        break
      }
    }
    await first.exited
    expect(acked).toBe(3)
    const second = await tracker(dir)
    const history = ((await (await call(second.url, 'GET', '/v1/channels/web/prod/history', TOKENS.viewer)).json()) as { rollouts: { toVersion: string }[] }).rollouts
    expect(history.slice(0, acked).map((r) => r.toVersion)).toEqual(['1', '2', '3'])
    // after-write: the 4th move is durable though its reply never left; before-write: it never happened.
    expect(history.length).toBe(point.endsWith('after-write') ? 4 : 3)
  }, 60_000)
})
