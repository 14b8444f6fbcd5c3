import type { RolloutGates } from '../../src/core/index.js'
import { advancePlan, indexPlan, planWaves, startProgress, targetMode } from '../../src/tracker/plan-waves.js'

/**
 * Activation of a simulated rollout under a plan, with the tracker's own planner and step rule
 * (planWaves, advancePlan, targetMode): a host activates once its batch is open and it has
 * staged the bundle (its download time from the swarm simulation: staging is swarm-wide at
 * once, so waves do not change the download), and runs `activateS` later (stop the old version,
 * start the new one, first health check passed). All hosts are healthy. Returns when the last
 * host runs, and the number of activation batches the plan has.
 */
export function activateInWaves(doneAt: readonly number[], rackOf: readonly number[], gates: RolloutGates, activateS: number): { lastRunningS: number; batches: number; waves: number } {
  const n = doneAt.length
  const hosts = doneAt.map((_, i) => ({ id: String(i), labels: { rack: `r${rackOf[i]}` } }))
  const plan = planWaves(hosts, gates, 'simulate')
  const at = indexPlan(plan)
  const runningAt = new Float64Array(n).fill(Infinity)
  let p = startProgress(new Date(0).toISOString(), 'simulate', '')
  let t = 0
  const open = (): void => {
    // Only the open wave's hosts can change mode at a step.
    for (const id of plan.waves[p.wave]?.flat() ?? []) {
      const i = Number(id)
      if (runningAt[i] === Infinity && targetMode(at.get(id), p, true) === 'new') runningAt[i] = Math.max(t, doneAt[i]!) + activateS
    }
  }
  const stateOf = (id: string) => ({ state: runningAt[Number(id)]! <= t + 1e-9 ? ('running' as const) : ('staged' as const) })
  for (let guard = 0; guard < 1_000_000; guard++) {
    open()
    let next
    while ((next = advancePlan(plan, p, stateOf, t * 1000, true))) {
      p = next
      open()
    }
    if (p.state === 'done') break
    // Nothing changes until the open batch is all running, or a bake ends.
    const batch = plan.waves[p.wave]![p.batch]!
    const batchUp = Math.max(...batch.map((id) => runningAt[Number(id)]!))
    t = p.bakeUntil !== null && batchUp <= t ? Math.max(t, Date.parse(p.bakeUntil) / 1000) : Math.max(t, batchUp)
  }
  return { lastRunningS: Math.max(...runningAt), batches: plan.waves.reduce((a, w) => a + w.length, 0), waves: plan.waves.length }
}
