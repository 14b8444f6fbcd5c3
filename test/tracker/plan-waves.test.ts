import { describe, expect, it } from 'vitest'
import type { RolloutGates, StatusState } from '../../src/core/index.js'
import { advancePlan, DEFAULT_GATES, haltThreshold, indexPlan, planWaves, startProgress, targetMode, unavailableCap } from '../../src/tracker/plan-waves.js'

const racks = (n: number, k: number) => Array.from({ length: n }, (_, i) => ({ id: `h${String(i).padStart(3, '0')}`, labels: { rack: `r${i % k}` } }))
const gates = (g: Partial<RolloutGates> = {}): RolloutGates => ({ ...DEFAULT_GATES, bakeSeconds: 0, ...g })
const rackOf = (id: string) => `r${Number(id.slice(1)) % 3}`

describe('planWaves', () => {
  it('is deterministic, covers every host once, and spreads each wave across racks within max-unavailable per batch', () => {
    const hosts = racks(12, 3)
    const g = gates({ waves: ['1', '10%', '50%', '100%'], by: 'rack', maxUnavailable: '25%' })
    const plan = planWaves(hosts, g, 'sha256:aa')
    expect(planWaves([...hosts].reverse(), g, 'sha256:aa')).toEqual(plan)
    expect(plan.waves.map((w) => w.flat().length)).toEqual([1, 1, 4, 6])
    expect(plan.waves.flat(2).sort()).toEqual(hosts.map((h) => h.id))
    for (const wave of plan.waves) {
      for (const batch of wave) {
        const per = new Map<string, number>()
        for (const id of batch) per.set(rackOf(id), (per.get(rackOf(id)) ?? 0) + 1)
        // 25% of a rack of 4: one host of a rack out of service at a time.
        expect(Math.max(...per.values())).toBe(1)
      }
    }
    // The 50% wave (4 hosts) holds every rack.
    expect(new Set(plan.waves[2]!.flat().map(rackOf)).size).toBe(3)
    // Another release picks other canaries.
    const others = ['sha256:bb', 'sha256:cc', 'sha256:dd'].map((seed) => planWaves(hosts, g, seed).waves[0]![0]![0])
    expect(new Set([plan.waves[0]![0]![0], ...others]).size).toBeGreaterThan(1)
  })

  it('appends a last wave for hosts the sizes leave out, and drops empty waves', () => {
    const plan = planWaves(racks(10, 1), gates({ waves: ['1', '1', '30%'], maxUnavailable: '100%' }), 's')
    expect(plan.waves.map((w) => w.flat().length)).toEqual([1, 2, 7])
  })

  it('caps and thresholds round as documented', () => {
    expect(unavailableCap('10%', 4)).toBe(1)
    expect(unavailableCap('50%', 4)).toBe(2)
    expect(unavailableCap('3', 40)).toBe(3)
    expect(haltThreshold('1', 50)).toBe(1)
    expect(haltThreshold('5%', 50)).toBe(3)
    expect(haltThreshold('5%', 4)).toBe(1)
  })
})

describe('advancePlan and targetMode', () => {
  const plan = planWaves(racks(6, 3), gates({ waves: ['1', '100%'], by: 'rack', maxUnavailable: '50%', haltAfter: '1', autoRollback: true }), 'seed')
  const at = indexPlan(plan)
  const p0 = startProgress('2026-11-30T00:00:00.000Z', 'ci', 'x')
  const all = (s: StatusState) => () => ({ state: s })

  it('waits for the open batch, then opens batches and waves in order, then is done', () => {
    expect(advancePlan(plan, p0, all('staged'), 0, true)).toBeUndefined()
    const p1 = advancePlan(plan, p0, all('running'), 0, true)!
    expect(p1).toMatchObject({ wave: 1, batch: 0, state: 'running' })
    let p = p1
    for (let i = 0; i < 10 && p.state === 'running'; i++) p = advancePlan(plan, p, all('running'), 0, true) ?? p
    expect(p.state).toBe('done')
    expect(p.events.map((e) => e.what)).toEqual(['started', 'wave opened', 'done'])
  })

  it('bakes a finished wave before opening the next', () => {
    const baked = planWaves(racks(6, 3), gates({ waves: ['1', '100%'], bakeSeconds: 30 }), 'seed')
    const p1 = advancePlan(baked, p0, all('running'), 1_000, true)!
    expect(p1.bakeUntil).toBe(new Date(31_000).toISOString())
    expect(advancePlan(baked, p1, all('running'), 30_999, true)).toBeUndefined()
    expect(advancePlan(baked, p1, all('running'), 31_000, true)).toMatchObject({ wave: 1, bakeUntil: null })
  })

  it('halts on the wave\'s failures (unhealthy, failed, lost), rolls back when asked, and tells each host what to run', () => {
    const canary = plan.waves[0]![0]![0]!
    const halted = advancePlan(plan, p0, (h) => (h === canary ? { state: 'unhealthy', code: 'UNHEALTHY' } : { state: 'staged' }), 0, true)!
    expect(halted).toMatchObject({ state: 'halted', rolledBack: true })
    expect(halted.reason).toContain(`${canary} (UNHEALTHY)`)
    expect(advancePlan(plan, { ...p0 }, (h) => (h === canary ? { state: 'lost' } : { state: 'staged' }), 0, true)?.state).toBe('halted')
    // Before: the canary runs the new version, the rest stage it; after the rollback, all run the old.
    const other = plan.waves[1]![0]![0]!
    expect(targetMode(at.get(canary), p0, true)).toBe('new')
    expect(targetMode(at.get(other), p0, true)).toBe('stage')
    expect(targetMode(at.get(canary), halted, true)).toBe('old')
    expect(targetMode(at.get(other), halted, true)).toBe('old')
    // A host that joined after the plan runs the old version until the rollout is done.
    expect(targetMode(undefined, p0, true)).toBe('old')
    expect(targetMode(undefined, { ...p0, state: 'done' }, true)).toBe('new')
    // Nothing to roll back to: the activated hosts stay.
    expect(advancePlan(plan, p0, (h) => (h === canary ? { state: 'failed' } : { state: 'staged' }), 0, false)).toMatchObject({ state: 'halted', rolledBack: false })
  })

  it('does nothing while paused', () => {
    expect(advancePlan(plan, { ...p0, state: 'paused' }, all('running'), 0, true)).toBeUndefined()
  })
})
