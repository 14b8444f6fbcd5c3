import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { chromium, type Browser } from 'playwright-core'
import { parseTokens } from '../../src/core/index.js'
import { buildTracker, createTrackerStore } from '../../src/tracker/index.js'
import { hostToken, TOKENS, TOKENS_FILE } from '../helpers/fleet.js'
import { runCli } from '../helpers/run-cli.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const CHROMIUM = '/usr/bin/chromium'
const tempDir = useTempDirs()
const stops: (() => Promise<void>)[] = []
let browser: Browser | undefined
afterEach(async () => {
  await browser?.close()
  browser = undefined
  for (const s of stops.splice(0).reverse()) await s()
})

const N = 2000
const STATES = ['pending', 'downloading', 'verifying', 'unpacking', 'launching', 'running', 'failed'] as const

describe('2,000 simulated hosts (report traffic from this test, not 2,000 daemons)', () => {
  it.skipIf(!existsSync(CHROMIUM))(`rollout status counts equal what the hosts reported; the dashboard renders them and shows each update within a second${existsSync(CHROMIUM) ? '' : ' (SKIPPED: needs /usr/bin/chromium, Debian package chromium)'}`, async () => {
    const store = createTrackerStore({ dataDir: join(await tempDir(), 't') })
    await store.start()
    const app = await buildTracker({ store, tokens: parseTokens(TOKENS_FILE) })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    stops.push(async () => {
      await app.close()
      await store.stop()
    })
    const call = async (method: string, path: string, token: string, body?: unknown) => {
      const r = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`)
      return r
    }
    const pool = async <T>(items: T[], fn: (x: T) => Promise<unknown>) => {
      let next = 0
      await Promise.all(Array.from({ length: 32 }, async () => {
        while (next < items.length) await fn(items[next++]!)
      }))
    }
    const digest = `sha256:${'d'.repeat(64)}`
    await call('PUT', `/v1/bundles/${digest}`, TOKENS.seeder, { size: 1 << 30, infoHash: 'b'.repeat(40), pieceLength: 1 << 20, webSeeds: [], seeder: 'o' })
    await call('PUT', '/v1/releases/app/versions/1.0.0', TOKENS.publisher, { digest })
    const hosts = Array.from({ length: N }, (_, k) => `h${String(k).padStart(4, '0')}`)
    await pool(hosts, (h) => call('PUT', `/v1/hosts/${h}`, hostToken(h), { labels: { region: `r${Number(h.slice(1)) % 4}`, rack: `k${Number(h.slice(1)) % 50}` }, follows: ['app@prod'] }))
    await call('PUT', '/v1/channels/app/prod', TOKENS.publisher, { version: '1.0.0' })
    // Every host reports a state; the tally is what the status must show.
    const tally: Record<string, number> = Object.fromEntries(STATES.map((s) => [s, 0]))
    const stateOf = (k: number) => STATES[(k * 3) % STATES.length]!
    await pool(hosts.map((h, k) => [h, stateOf(k)] as const), async ([h, state]) => {
      tally[state]!++
      await call('POST', `/v1/hosts/${h}/reports`, hostToken(h), { digest, state, bytesDone: 1000, ...(state === 'failed' ? { errorCode: 'DISK_FULL' } : {}) })
    })
    const json = await runCli(['rollout', 'status', 'app@prod', '--tracker', url, '--token', TOKENS.viewer, '--json'])
    const s = JSON.parse(json.stdout)
    expect(s.hosts).toBe(N)
    expect(s.byState).toEqual({ ...tally, staged: 0, unhealthy: 0, lost: 0 }) // no host here long-polls: none is judged lost
    expect(s.failures).toEqual([expect.objectContaining({ code: 'DISK_FULL', count: tally.failed })])
    const metrics = await (await fetch(`${url}/metrics`)).text()
    expect(metrics).toContain(`shoal_tracker_rollout_hosts{release="app",channel="prod",state="running"} ${tally.running}`)

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] })
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } })
    const t0 = performance.now()
    await page.goto(`${url}/#/rollout/app/prod?token=${TOKENS.viewer}`)
    await page.waitForFunction(`document.querySelectorAll('.cell').length === ${N}`, undefined, { timeout: 10_000 })
    const firstRender = performance.now() - t0
    expect(await page.textContent('#pct')).toBe(`${s.percentRunning}%`)
    // Updates: move hosts to running one batch at a time and time how long the page takes to show it.
    const notRunning = hosts.filter((_, k) => stateOf(k) !== 'running')
    let running = tally.running!
    const delays: number[] = []
    for (let batch = 0; batch < 5; batch++) {
      const moved = notRunning.splice(0, 100)
      await pool(moved, (h) => call('POST', `/v1/hosts/${h}/reports`, hostToken(h), { digest, state: 'running', bytesDone: 1 << 30 }))
      running += moved.length
      const sent = performance.now()
      await page.waitForFunction(`document.querySelector('#pct')?.textContent === '${Math.round((running / N) * 1000) / 10}%'`, undefined, { timeout: 5_000, polling: 20 })
      delays.push(performance.now() - sent)
    }
    await page.screenshot({ path: 'test-results/dashboard-2000-hosts.png', fullPage: true })
    // Budget: the tracker batches changes every 250 ms; the page must show each within a second.
    console.log(`dashboard with ${N} hosts: first render ${firstRender.toFixed(0)} ms, update delays ${delays.map((d) => d.toFixed(0)).join(', ')} ms`)
    expect(Math.max(...delays), `update delays ${delays.map((d) => d.toFixed(0)).join(', ')} ms; first render ${firstRender.toFixed(0)} ms`).toBeLessThan(1000)
  }, 180_000)
})
