import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { chromium, type Browser } from 'playwright-core'
import { callApi, hostToken, startFleet, TOKENS, waitFor, type Fleet } from '../helpers/fleet.js'
import { mkdir as mkdirp, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runCli } from '../helpers/run-cli.js'
import { useTempDirs } from '../helpers/temp-dir.js'

// Debian's chromium (installed by .ci/run); no browser download.
const CHROMIUM = '/usr/bin/chromium'
const tempDir = useTempDirs()
const fleets: Fleet[] = []
let browser: Browser | undefined
afterEach(async () => {
  await browser?.close()
  browser = undefined
  for (const f of fleets.splice(0)) f.kill()
})

describe('the dashboard in headless Chromium', () => {
  it.skipIf(!existsSync(CHROMIUM))(`follows a live rollout of real fetchers to 100% without a reload${existsSync(CHROMIUM) ? '' : ' (SKIPPED: needs /usr/bin/chromium, Debian package chromium)'}`, async () => {
    const fleet = await startFleet(await tempDir(), { hosts: 3, fetcherArgs: ['--down-limit', '4MiB', '--label', 'region=eu'] })
    fleets.push(fleet)
    await fleet.publish('1.0.0', 64 << 10)
    await waitFor('1.0.0 running everywhere', async () => (await fleet.status()).byState.running === 3)

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] })
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } })
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    // Without a token the page asks for one and shows nothing.
    await page.goto(`${fleet.tracker.url}/`)
    await page.waitForSelector('#login', { state: 'visible' })
    await page.fill('#token', TOKENS.viewer)
    await page.click('#login button')
    await page.waitForSelector('text=app@prod')
    await page.click('text=app@prod')
    await page.waitForSelector('#pct')
    expect(await page.textContent('#pct')).toBe('100%')

    // A new rollout while the page is open: it follows the event stream, never reloaded.
    let loads = 0
    page.on('load', () => loads++)
    const b = await fleet.publish('2.0.0', 12 << 20)
    // (Browser-side code as strings: this project's TypeScript has no DOM types.)
    await page.waitForFunction("document.querySelector('#title')?.textContent?.includes('2.0.0')", undefined, { timeout: 30_000 })
    await page.waitForFunction(
      "(window.seen = [...(window.seen ?? []), document.querySelector('#pct')?.textContent ?? '']).at(-1) === '100%'",
      undefined,
      { timeout: 90_000, polling: 100 },
    )
    const seen = (await page.evaluate('window.seen')) as string[]
    expect(seen.some((p) => p !== '100%')).toBe(true) // it was watched on the way, not only at the end
    expect(loads).toBe(0)
    await page.waitForFunction("document.querySelectorAll('.cell.s-running').length === 3", undefined, { timeout: 5_000 })
    expect(await page.textContent('#hosts')).toContain('3/3 running')
    expect((await fleet.get('/v1/channels/app/prod')).digest).toBe(b.digest)

    // A host cell opens the host's page: both versions it was told to run, each with its report.
    await page.click('#hosts a.cell >> nth=0')
    await page.waitForSelector('#host-title')
    const hostId = await page.textContent('#host-title')
    expect(hostId).toMatch(/^host\d$/)
    const moves = await page.$$eval('table.host-moves tr', (rows) => rows.slice(1).map((r) => (r as unknown as { innerText: string }).innerText))
    expect(moves).toHaveLength(2)
    expect(moves[0]).toMatch(/^2\.0\.0\s.*running/)
    expect(moves[1]).toMatch(/^1\.0\.0\s.*running/)
    // Back to the rollout, then its history page (linked from it): both moves, newest first.
    await page.click('text=app@prod')
    await page.click('#history-link')
    await page.waitForSelector('#history')
    const history = await page.$$eval('#history tr', (rows) => rows.slice(1).map((r) => (r as unknown as { innerText: string }).innerText))
    expect(history).toHaveLength(2)
    expect(history[0]).toMatch(/1\.0\.0\s+2\.0\.0/)
    expect(history[1]).toMatch(/-\s+1\.0\.0/)
    await page.click('header >> text=hosts')
    await page.waitForSelector(`text=${hostId}`)
    await mkdir('test-results', { recursive: true })
    await page.screenshot({ path: 'test-results/dashboard.png', fullPage: true })
    expect(errors).toEqual([])
  }, 180_000)

  it.skipIf(!existsSync(CHROMIUM))(`a page opened after a rollout draws its curve from the tracker's record; a planned rollout shows its waves, bake countdown, and why it halted${existsSync(CHROMIUM) ? '' : ' (SKIPPED: needs /usr/bin/chromium)'}`, async () => {
    const fleet = await startFleet(await tempDir(), { hosts: 3 })
    fleets.push(fleet)
    await fleet.publish('1.0.0', 64 << 10)
    await waitFor('1.0.0 running everywhere', async () => (await fleet.status()).byState.running === 3)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] })
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } })
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    await page.goto(`${fleet.tracker.url}/#/rollout/app/prod?token=${TOKENS.viewer}`)
    await page.waitForSelector('#pct')
    // Opened after the rollout: the curve has the hosts' running times (0, three hosts, now), not one point.
    const points = (await page.getAttribute('svg polyline', 'points'))!.trim().split(' ')
    expect(points.length).toBeGreaterThanOrEqual(4)
    expect(await page.textContent('#status')).toContain('plain move: one wave, no gates')

    const tree = join(fleet.dir, 'tree-2')
    await mkdirp(tree, { recursive: true })
    await writeFile(join(tree, 'payload.bin'), Buffer.alloc(64 << 10, 2))
    const pub = ['--tracker', fleet.tracker.url, '--token', TOKENS.publisher]
    expect((await runCli(['publish', tree, '-r', 'app', '--version', '2.0.0', '--seeder', fleet.seeder.url, ...pub, '-q'])).code).toBe(0)
    const start = await runCli(['rollout', 'start', 'app@prod', '--to', '2.0.0', '--waves', '1,100%', '--bake', '10m', '--json', ...pub])
    expect(start.code, start.stderr).toBe(0)
    const canary = (JSON.parse(start.stdout) as { plan: { waves: { sample: string[] }[] } }).plan.waves[0]!.sample[0]!
    await page.waitForFunction("document.querySelector('#waves')?.innerText.includes('s left')", undefined, { timeout: 60_000 })
    const waves = await page.$$eval('#waves tr', (rows) => rows.slice(1).map((r) => (r as unknown as { innerText: string }).innerText))
    expect(waves[0]).toMatch(/^1\s+1\s+1\s+0\s+baking \(\d+ s left\)/)
    expect(waves[1]).toMatch(/^2\s+2\s+0\s+0\s+waiting/)
    expect(await page.textContent('#status')).toMatch(/staged 2/)
    // The canary turns unhealthy: the rollout halts and the page says why.
    const digest = (await fleet.get('/v1/channels/app/prod')).digest as string
    const r = await callApi(fleet.tracker.url, 'POST', `/v1/hosts/${canary}/reports`, hostToken(canary), { digest, state: 'unhealthy', bytesDone: 0, bytesDerived: 40 << 20, errorCode: 'UNHEALTHY', message: 'app@2.0.0: 2 health checks failed in a row' })
    expect(r.status).toBe(200)
    await page.waitForSelector('#halt-reason', { timeout: 30_000 })
    expect(await page.textContent('#halt-reason')).toContain(`${canary} (UNHEALTHY)`)
    expect(await page.textContent('#plan-state')).toBe('halted')
    // What hosts derived from the version they held instead of fetching it (incremental releases).
    expect(await page.textContent('#derived')).toMatch(/^4\d\.\d MiB$/)
    await page.click('#history-link')
    await page.waitForSelector('#history')
    expect(await page.textContent('#history')).toMatch(/halted.*started by ci/s)
    await page.screenshot({ path: 'test-results/dashboard-plan.png', fullPage: true })
    expect(errors).toEqual([])
  }, 180_000)
})
