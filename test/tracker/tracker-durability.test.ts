import type { ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { HOST_KEY, hostToken } from '../helpers/fleet.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { startTracker as startTrackerProcess } from '../helpers/start-tracker.js'

const tempDir = useTempDirs()
const PUB = 'pub-token-0123456789abcdef'
const VIEW = 'view-token-0123456789abcdef'
const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
})
const startTracker = async (dataDir: string, tokens: string) => {
  const t = await startTrackerProcess(dataDir, tokens)
  children.push(t.child)
  return t
}

describe('shoal tracker durability', () => {
  it('every acknowledged report and channel move survives kill -9 of the tracker mid-traffic', async () => {
    const dir = await tempDir()
    const tokens = join(dir, 'tokens')
    await writeFile(tokens, `publisher ${PUB} ci\nhost-key ${HOST_KEY} fleet\nviewer ${VIEW} eng\n`)
    const dataDir = join(dir, 'data')
    const first = await startTracker(dataDir, tokens)
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies read in assertions
    const json = async (r: Promise<Response>): Promise<any> => (await r).json()
    const call = (base: string, method: string, path: string, token: string, body?: unknown) =>
      fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined })

    const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`
    for (let v = 1; v <= 20; v++) expect((await call(first.url, 'PUT', `/v1/releases/web/versions/${v}`, PUB, { digest: digest(v) })).status).toBe(201)
    for (let h = 0; h < 50; h++) expect((await call(first.url, 'PUT', `/v1/hosts/host-${h}`, hostToken(`host-${h}`), { follows: ['web@prod'] })).status).toBe(200)

    const ackedReports = new Map<string, number>() // host -> highest acked bytesDone
    let ackedMoves = 0
    let acks = 0
    let killed = false
    const killAt = 150
    const kill = () => {
      if (!killed && acks >= killAt) {
        killed = true
        first.child.kill('SIGKILL')
      }
    }
    // 50 hosts report in parallel while the channel moves; stop at the first refused connection.
    const hostLoop = async (h: number) => {
      for (let step = 1; step <= 40 && !killed; step++) {
        try {
          const r = await call(first.url, 'POST', `/v1/hosts/host-${h}/reports`, hostToken(`host-${h}`), { digest: digest(1), state: 'downloading', bytesDone: step })
          if (r.status === 200) {
            ackedReports.set(`host-${h}`, step)
            acks++
            kill()
          }
        } catch {
          return
        }
      }
    }
    const moveLoop = async () => {
      for (let v = 1; v <= 20 && !killed; v++) {
        try {
          const r = await call(first.url, 'PUT', '/v1/channels/web/prod', PUB, { version: String(v) })
          if (r.status === 200) {
            ackedMoves = v
            acks++
            kill()
          }
        } catch {
          return
        }
      }
    }
    await Promise.all([...Array.from({ length: 50 }, (_, h) => hostLoop(h)), moveLoop()])
    expect(killed).toBe(true)
    if (first.child.exitCode === null && first.child.signalCode === null) await new Promise((r) => first.child.once('exit', r))

    const second = await startTracker(dataDir, tokens)
    const history = (await json(call(second.url, 'GET', '/v1/channels/web/prod/history', VIEW))).rollouts
    expect(history.length).toBeGreaterThanOrEqual(ackedMoves)
    expect(history.slice(0, ackedMoves).map((r: { toVersion: string }) => r.toVersion)).toEqual(Array.from({ length: ackedMoves }, (_, i) => String(i + 1)))
    const status = await json(call(second.url, 'GET', '/v1/rollouts/web/prod/status', VIEW))
    expect(status.hosts).toBe(50)
    // Every acknowledged report is there (a later, unacknowledged one may be too).
    const hostsResp = await json(call(second.url, 'GET', '/v1/hosts', VIEW))
    expect(hostsResp.hosts).toHaveLength(50)
    for (const [host, step] of ackedReports) {
      const r = await call(second.url, 'GET', `/v1/hosts/${host}/reports/${digest(1)}`, VIEW)
      expect(r.status).toBe(200)
      expect((await json(Promise.resolve(r))).bytesDone, host).toBeGreaterThanOrEqual(step)
    }
    expect(ackedReports.size).toBeGreaterThan(10)
    const exited = new Promise((r) => second.child.once('exit', r))
    second.child.kill('SIGTERM')
    await exited
  })
})
