import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { chromium, type Browser } from 'playwright-core'
import { startFleet, TOKENS, waitFor, type Fleet } from '../helpers/fleet.js'
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
})
