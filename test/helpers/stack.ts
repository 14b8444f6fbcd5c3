import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { createApiClient, createSeederApi, createTrackerApi, parsePrivateKey, parseTokens } from '../../src/core/index.js'
import { createSeeder, publishBundle, type Seeder } from '../../src/seeder/index.js'
import { buildTracker, createTrackerStore, type TrackerStore } from '../../src/tracker/index.js'
import { TOKENS, TOKENS_FILE } from './fleet.js'

/** A tracker and a seeder in this process, on loopback, for tests of the host's paths. */
export interface Stack {
  dir: string
  trackerUrl: string
  seeder: Seeder
  seederUrl: string
  store: TrackerStore
  app: FastifyInstance
  /** Publishes a tree of one random file as app@version (optionally signed) and moves prod to it. */
  publish(version: string, size: number, opts?: { sign?: string; channel?: string | null; tree?: string }): Promise<{ digest: string; size: number }>
  get(path: string): Promise<any> // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON for assertions
  restartTracker(opts?: { wipe?: boolean }): Promise<void>
  stop(): Promise<void>
}

export async function startStack(dir: string): Promise<Stack> {
  const tokens = parseTokens(TOKENS_FILE)
  let store = createTrackerStore({ dataDir: join(dir, 'tracker') })
  await store.start()
  let app = await buildTracker({ store, tokens, statusCacheMs: 0 })
  const trackerUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  const port = Number(new URL(trackerUrl).port)
  const seeder = createSeeder({ dataDir: join(dir, 'seeder'), tokens, port: 0, peerPort: 0, tracker: { url: trackerUrl, token: TOKENS.seeder }, sweepIntervalMs: 0 })
  const { url: seederUrl } = await seeder.start()
  let n = 0
  const stack: Stack = {
    dir,
    trackerUrl,
    seeder,
    seederUrl,
    get store() {
      return store
    },
    get app() {
      return app
    },
    async publish(version, size, opts = {}) {
      const tree = opts.tree ?? join(dir, `tree-${version}-${n++}`)
      if (!opts.tree) {
        await mkdir(tree, { recursive: true })
        await writeFile(join(tree, 'payload.bin'), randomBytes(size))
      }
      const channel = opts.channel === null ? undefined : (opts.channel ?? 'prod')
      const client = (url: string, server: 'tracker' | 'seeder') => createApiClient({ url, token: TOKENS.publisher, server })
      const { readFile } = await import('node:fs/promises')
      const signingKey = opts.sign ? parsePrivateKey(await readFile(opts.sign, 'utf8')) : undefined
      const r = await publishBundle(tree, { release: 'app', version, channel, signingKey }, { seeder: createSeederApi(client(seederUrl, 'seeder')), tracker: createTrackerApi(client(trackerUrl, 'tracker'), TOKENS.publisher) })
      return { digest: r.digest, size: r.size }
    },
    async get(path) {
      return (await fetch(`${trackerUrl}${path}`, { headers: { authorization: `Bearer ${TOKENS.viewer}` } })).json()
    },
    async restartTracker(opts = {}) {
      await app.close()
      await store.stop()
      if (opts.wipe) {
        const { rm } = await import('node:fs/promises')
        await rm(join(dir, 'tracker'), { recursive: true, force: true })
      }
      store = createTrackerStore({ dataDir: join(dir, 'tracker') })
      await store.start()
      app = await buildTracker({ store, tokens, statusCacheMs: 0 })
      await app.listen({ port, host: '127.0.0.1' })
    },
    async stop() {
      await seeder.stop()
      await app.close()
      await store.stop()
    },
  }
  return stack
}
