import { describe, expect, it } from 'vitest'
import type { TrackerStore } from '../../src/tracker/index.js'
import { createRolloutDriver } from '../../src/tracker/rollout-driver.js'

type Rollout = Awaited<ReturnType<TrackerStore['getRollout']>>
const plain = (id: string): Rollout => ({ schema: 1, id, release: 'web', channel: 'prod', fromVersion: '1', toVersion: '2', digest: `sha256:${'2'.repeat(64)}`, by: 'ci', at: '2026-11-30T00:00:00.000Z' })
const planned = (id: string): Rollout => ({
  ...plain(id)!,
  fromDigest: `sha256:${'1'.repeat(64)}`,
  plan: { gates: { waves: ['1', '100%'], maxUnavailable: '100%', bakeSeconds: 0, haltAfter: '1', autoRollback: false }, waves: [[['h1']], [['h2']]] },
  progress: { rev: 0, state: 'running', rolledBack: false, wave: 0, batch: 0, bakeUntil: null, reason: null, events: [] },
})

/** A store whose getRollout answers what `records` holds, each read held until released. */
function slowStore(records: Map<string, Rollout>) {
  const pending: Array<() => void> = []
  const store = {
    getRollout: async (_r: string, _c: string, id: string) => {
      const value = records.get(id)
      await new Promise<void>((resolve) => pending.push(resolve))
      return value
    },
  } as unknown as TrackerStore
  return { store, release: () => pending.splice(0).forEach((r) => r()) }
}

describe('createRolloutDriver: what it caches of a channel\'s rollout', () => {
  it('a read that raced a change is not kept, and an entry answers only for its own rollout id', async () => {
    const records = new Map<string, Rollout>([['web@prod#1', plain('web@prod#1')], ['web@prod#2', planned('web@prod#2')]])
    const { store, release } = slowStore(records)
    const driver = createRolloutDriver(store, { isLost: () => false, onStep: () => {} })
    // A read of the old (plain) rollout is under way when the channel moves to a planned one.
    const stale = driver.planned({ release: 'web', channel: 'prod', rolloutId: 'web@prod#1' })
    driver.changed('web', 'prod')
    release()
    expect(await stale).toBeUndefined()
    // The next read for the new rollout id goes to the store: the plan is seen, not the plain move.
    const fresh = driver.planned({ release: 'web', channel: 'prod', rolloutId: 'web@prod#2' })
    release()
    expect((await fresh)?.record.id).toBe('web@prod#2')
    // A cached plain move never answers for another rollout id.
    const plainAgain = driver.planned({ release: 'web', channel: 'prod', rolloutId: 'web@prod#1' })
    release()
    expect(await plainAgain).toBeUndefined()
    const second = driver.planned({ release: 'web', channel: 'prod', rolloutId: 'web@prod#2' })
    release()
    expect((await second)?.index.get('h2')).toEqual([1, 0])
    driver.stop()
  })

  it('an entry is re-read after a second without a change notice (a lost NOTIFY costs at most that)', async () => {
    let clock = 0
    let reads = 0
    const store = { getRollout: async () => (reads++, planned('web@prod#2')) } as unknown as TrackerStore
    const driver = createRolloutDriver(store, { isLost: () => false, onStep: () => {}, now: () => clock })
    const ch = { release: 'web', channel: 'prod', rolloutId: 'web@prod#2' }
    await driver.planned(ch)
    await driver.planned(ch)
    expect(reads).toBe(1)
    clock += 1_000
    await driver.planned(ch)
    expect(reads).toBe(2)
    driver.stop()
  })
})
