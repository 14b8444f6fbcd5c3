import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { superviseChild } from '../../src/launcher/supervise-child.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()

/** Runs a child that records when it started and exits 1, under the given backoff; the gaps between starts. */
async function startGaps(backoffMs: number, maxBackoffMs: number, maxRestarts: number): Promise<number[]> {
  const log = join(await tempDir(), 'starts')
  const run = superviseChild({
    command: process.execPath,
    args: ['-e', `require('fs').appendFileSync(${JSON.stringify(log)}, Date.now() + '\\n'); process.exit(1)`],
    options: {},
    restart: 'on-failure',
    maxRestarts,
    backoffMs,
    maxBackoffMs,
    label: 'crasher',
  })
  await expect(run.done).rejects.toMatchObject({ code: 'LAUNCH_FAILED' })
  const starts = (await readFile(log, 'utf8')).trim().split('\n').map(Number)
  expect(starts).toHaveLength(maxRestarts + 1)
  return starts.slice(1).map((t, i) => t - starts[i]!)
}

describe('superviseChild() restart backoff (issue 17)', () => {
  it('waits backoffMs, then twice as long after each further exit', async () => {
    const gaps = await startGaps(100, 10_000, 4)
    // Each gap is the backoff plus a process start; the backoff doubles, so each gap is at least
    // the doubled backoff. (Differences between gaps are not compared: a process start under a
    // loaded CI run varied by more than 100 ms and made that check fail once, 288 ms for > 300.)
    for (const [i, want] of [100, 200, 400, 800].entries()) expect(gaps[i], `gap ${i}`).toBeGreaterThanOrEqual(want)
  }, 30_000)

  it('never waits longer than maxBackoffMs', async () => {
    const gaps = await startGaps(100, 150, 4)
    for (const g of gaps.slice(1)) {
      expect(g).toBeGreaterThanOrEqual(150)
      expect(g).toBeLessThan(150 + 1500)
    }
  }, 30_000)
})
