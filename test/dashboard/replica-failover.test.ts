import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { callApi, fakeDigest, TOKENS, TOKENS_FILE } from '../helpers/fleet.js'
import { startPostgres, whyNoPostgres, type PrivatePostgres } from '../helpers/postgres.js'
import { startDaemon } from '../helpers/start-tracker.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { freePort } from '../helpers/free-port.js'

const CHROMIUM = '/usr/bin/chromium'
const SKIPPED = !existsSync(CHROMIUM) ? 'needs /usr/bin/chromium, Debian package chromium' : whyNoPostgres()
const pgi: PrivatePostgres | undefined = SKIPPED ? undefined : await startPostgres()
afterAll(() => pgi?.stop())
const tempDir = useTempDirs()
const children: ChildProcess[] = []
let browser: Browser | undefined
afterEach(async () => {
  await browser?.close()
  browser = undefined
  for (const c of children.splice(0)) c.kill('SIGKILL')
})

describe('the dashboard with several tracker replicas (issue 19)', () => {
  it.skipIf(!pgi)(`the replica that served the page is killed: the page's event stream moves to another replica and shows the next move${SKIPPED ? ` (SKIPPED: ${SKIPPED})` : ''}`, async () => {
    const store = await pgi!.createDatabase()
    const tokens = join(await tempDir(), 'tokens')
    await writeFile(tokens, TOKENS_FILE)
    const ports = [await freePort(), await freePort()]
    const urls = ports.map((p) => `http://127.0.0.1:${p}`)
    const [a, b] = await Promise.all(ports.map((p) => startDaemon('tracker', ['--store', store, '--tokens', tokens, '--port', String(p), '--replica-urls', urls.join(','), '-q'])))
    children.push(a!.child, b!.child)
    expect((await callApi(a!.url, 'PUT', '/v1/releases/app/versions/1', TOKENS.publisher, { digest: fakeDigest(1) })).status).toBe(201)
    expect((await callApi(a!.url, 'PUT', '/v1/channels/app/prod', TOKENS.publisher, { version: '1' })).status).toBe(200)
    // Another origin gets no CORS header; the other replica's does.
    const foreign = await fetch(`${b!.url}/v1/channels`, { headers: { origin: 'http://evil.example', authorization: `Bearer ${TOKENS.viewer}` } })
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull()
    const preflight = await fetch(`${b!.url}/v1/channels`, { method: 'OPTIONS', headers: { origin: urls[0]!, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe(urls[0])

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] })
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    const logs: string[] = []
    page.on('console', (m) => logs.push(m.text()))
    await page.goto(`${urls[0]}/#/rollout/app/prod?token=${TOKENS.viewer}`)
    await page.waitForFunction("document.querySelector('#title')?.textContent?.includes('1')", undefined, { timeout: 15_000 })
    expect(await page.textContent('#live')).toContain(`127.0.0.1:${ports[0]}`)

    a!.child.kill('SIGKILL')
    expect((await callApi(b!.url, 'PUT', '/v1/releases/app/versions/2', TOKENS.publisher, { digest: fakeDigest(2) })).status).toBe(201)
    expect((await callApi(b!.url, 'PUT', '/v1/channels/app/prod', TOKENS.publisher, { version: '2' })).status).toBe(200)
    // (Browser-side code as strings: this project's TypeScript has no DOM types.)
    await page.waitForFunction("document.querySelector('#title')?.textContent?.includes('→ 2')", undefined, { timeout: 20_000 }).catch(async (err: Error) => {
      throw new Error(`${err.message}; the page says: ${await page.textContent('#live')} / ${await page.textContent('#main')} ${logs.join('; ')}`)
    })
    expect(await page.textContent('#live')).toContain(`127.0.0.1:${ports[1]}`)
    expect(errors).toEqual([])
  }, 90_000)
})
