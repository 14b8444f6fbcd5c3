import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { parseTokens } from '../../src/core/index.js'
import type { HostReport } from '../../src/core/index.js'
import { createFetcher, createReporter, type ReportSink } from '../../src/fetcher/index.js'
import { createSeeder } from '../../src/seeder/index.js'
import { TOKENS, waitFor } from '../helpers/fleet.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
// Handles a test runner has of its own (its pipes, timers, pending fs requests) are not ours.
const resources = () => process.getActiveResourcesInfo().filter((r) => !['TTYWrap', 'Timeout', 'FSReqPromise', 'FSReqCallback'].includes(r)).sort()

describe('daemon services', () => {
  it('createSeeder() and createFetcher() start and stop twice without leaking sockets, servers or files', async () => {
    const dir = await tempDir()
    const before = resources()
    for (let round = 0; round < 2; round++) {
      const seeder = createSeeder({ dataDir: join(dir, 'seeder'), tokens: parseTokens(`publisher ${TOKENS.publisher}\n`), port: 0, peerPort: 0 })
      await seeder.start()
      // The tracker is unreachable on purpose: the fetcher must keep retrying and still stop at once.
      const fetcher = createFetcher({ dataDir: join(dir, 'host'), tracker: { url: 'http://127.0.0.1:9', token: TOKENS.host }, hostId: 'h1', follows: ['app@prod'], peerPort: 0 })
      await fetcher.start()
      await fetcher.stop()
      await seeder.stop()
    }
    // A closed server's handle goes a tick after close() calls back: wait for it, bounded.
    await waitFor('handles to be released', async () => JSON.stringify(resources()) === JSON.stringify(before), 5_000).catch(() => {})
    expect(resources()).toEqual(before)
  }, 30_000)
})

describe('createReporter()', () => {
  it('report() sends at most one report a second per target, always the newest, and retries the last one', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    try {
      const sent: HostReport[] = []
      let failNext = false
      const client = {
        report: async (_host: string, r: HostReport) => {
          if (failNext) {
            failNext = false
            throw new Error('tracker down')
          }
          sent.push(r)
        },
      } as ReportSink
      const reporter = createReporter({ client, hostId: 'h1', intervalMs: 1000 })
      const d = 'sha256:' + 'a'.repeat(64)
      const e = 'sha256:' + 'b'.repeat(64)
      for (let k = 0; k < 50; k++) reporter.report({ digest: d as never, state: 'downloading', bytesDone: k })
      reporter.report({ digest: e as never, state: 'pending', bytesDone: 0 })
      await vi.advanceTimersByTimeAsync(0)
      expect(sent.map((r) => [r.digest, r.bytesDone])).toEqual([[d, 49], [e, 0]])
      reporter.report({ digest: d as never, state: 'downloading', bytesDone: 60 })
      reporter.report({ digest: d as never, state: 'running', bytesDone: 100 })
      await vi.advanceTimersByTimeAsync(500)
      expect(sent).toHaveLength(2) // not before a second has passed
      failNext = true
      await vi.advanceTimersByTimeAsync(600)
      expect(sent).toHaveLength(2) // that one failed...
      await vi.advanceTimersByTimeAsync(3000)
      expect(sent.at(-1)).toMatchObject({ digest: d, state: 'running', bytesDone: 100 }) // ...and came again
      reporter.stop()
    } finally {
      vi.useRealTimers()
    }
  })
})
