import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createApiClient, createSeederApi, createTrackerApi, parseTokens } from '../../src/core/index.js'
import { createSeeder, publishBundle } from '../../src/seeder/index.js'
import { buildTracker, createTrackerStore } from '../../src/tracker/index.js'
import { TOKENS, TOKENS_FILE, waitFor } from '../helpers/fleet.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})
const tokens = parseTokens(TOKENS_FILE)

async function tracker(dataDir: string, port = 0): Promise<{ url: string; close: () => Promise<void> }> {
  const store = createTrackerStore({ dataDir })
  await store.start()
  const app = await buildTracker({ store, tokens })
  const url = await app.listen({ port, host: '127.0.0.1' })
  const close = async (): Promise<void> => {
    await app.close()
    await store.stop()
  }
  closers.push(close)
  return { url, close }
}

describe('the seeder registers what it holds once the tracker is back (issue 17)', () => {
  it('a seeder restarted while the tracker is down retries in the background, and registers as soon as a tracker answers', async () => {
    const dir = await tempDir()
    const first = await tracker(join(dir, 'tracker-1'))
    const seederInit = { dataDir: join(dir, 'seeder'), tokens, port: 0, peerPort: 0, tracker: { url: first.url, token: TOKENS.seeder }, sweepIntervalMs: 0 }
    const s1 = createSeeder(seederInit)
    const { url: seederUrl } = await s1.start()
    const tree = join(dir, 'tree')
    await mkdir(tree)
    await writeFile(join(tree, 'f.bin'), randomBytes(100_000))
    const client = (url: string, server: 'tracker' | 'seeder') => createApiClient({ url, token: TOKENS.publisher, server })
    const b = await publishBundle(tree, { release: 'app', version: '1' }, { seeder: createSeederApi(client(seederUrl, 'seeder')), tracker: createTrackerApi(client(first.url, 'tracker'), TOKENS.publisher) })
    await s1.stop()
    const port = Number(new URL(first.url).port)
    await first.close() // the tracker is gone (and will come back without this bundle)

    const s2 = createSeeder(seederInit)
    await s2.start() // must not fail: registration goes on in the background
    closers.push(() => s2.stop())
    const second = await tracker(join(dir, 'tracker-2'), port)
    const facts = await waitFor('the bundle registered with the new tracker', async () => {
      const r = await fetch(`${second.url}/v1/bundles/${b.digest}`, { headers: { authorization: `Bearer ${TOKENS.viewer}` } })
      return r.ok && ((await r.json()) as { seeders: string[]; hasTorrent: boolean })
    }, 20_000)
    expect(facts).toMatchObject({ seeders: ['origin'], hasTorrent: true })
  }, 60_000)
})
