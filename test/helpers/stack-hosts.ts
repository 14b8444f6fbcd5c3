import { join } from 'node:path'
import { afterEach } from 'vitest'
import { createFetcher, type Fetcher, type FetcherInit } from '../../src/fetcher/index.js'
import { hostToken, waitFor } from './fleet.js'
import { startStack, type Stack } from './stack.js'

/**
 * In-process stacks (tracker + seeder) with fetchers following app@prod, for tests of the host's
 * paths; everything made in a test is stopped after it, newest first (also what `closers` gets).
 */
export function useStackHosts(tempDir: () => Promise<string>) {
  const closers: Array<() => Promise<unknown> | unknown> = []
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c()
  })
  const stack = async (): Promise<Stack> => {
    const s = await startStack(await tempDir())
    closers.push(() => s.stop())
    return s
  }
  const fetcher = async (s: Stack, id: string, extra: Partial<FetcherInit> = {}): Promise<Fetcher> => {
    const f = createFetcher({
      dataDir: join(s.dir, id),
      tracker: { url: s.trackerUrl, token: hostToken(id) },
      hostId: id,
      follows: ['app@prod'],
      peerPort: 0,
      listenHost: '127.0.0.1',
      retryMs: { min: 100, max: 400 },
      webSeedAfterMs: 500,
      ...extra,
    })
    await f.start()
    closers.push(() => f.stop())
    return f
  }
  const report = (s: Stack, host: string, digest: string) => s.get(`/v1/hosts/${host}/reports/${digest}`)
  const runningOn = (s: Stack, host: string, digest: string) => waitFor(`${host} running ${digest.slice(7, 15)}`, async () => (await report(s, host, digest)).state === 'running', 30_000)
  return { closers, stack, fetcher, report, runningOn }
}
