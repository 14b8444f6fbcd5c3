import { HostIdInUseError } from '../core/index.js'

/**
 * Which fetcher process acts as each host id, so two never merge into one record (two fetchers
 * on one machine both defaulting to its name, a data dir copied to a new machine). A process is
 * live while it holds a targets long-poll, and for `graceMs` after one ends or after it registers
 * (a fetcher re-polls at once); a process killed with -9 drops its poll's connection, so its
 * successor is accepted `graceMs` later. In memory, per tracker replica: bounded by the hosts the
 * registry admits (--max-hosts).
 */
export interface HostInstances {
  /** `instance` acts as `hostId` from now (registration); throws HOST_ID_IN_USE while another is live. */
  claim(hostId: string, instance: string): void
  /** A targets long-poll of `instance` starts; the returned function ends it. */
  poll(hostId: string, instance: string): () => void
  forget(hostId: string): void
  /**
   * A host whose fetcher this replica has seen is lost when none of its instances has polled for
   * `afterMs`. A host never seen polling here (another replica's, or before a restart) is not.
   */
  isLost(hostId: string, afterMs: number): boolean
  /** Whether any host became lost (at `afterMs`) since the last call: the statuses changed. */
  newlyLost(afterMs: number): boolean
}

export function createHostInstances(init: { graceMs?: number; now?: () => number } = {}): HostInstances {
  const graceMs = init.graceMs ?? 5_000
  const now = init.now ?? (() => performance.now())
  const current = new Map<string, { instance: string; polls: number; lastSeen: number }>()
  let checkedAt = now()

  const take = (hostId: string, instance: string): { instance: string; polls: number; lastSeen: number } => {
    const c = current.get(hostId)
    if (c && c.instance !== instance) {
      if (c.polls > 0 || now() - c.lastSeen < graceMs) {
        throw new HostIdInUseError(`Cannot act as host ${hostId}: another fetcher (instance ${c.instance.slice(0, 8)}…) is live with this id; give this one its own --host-id`, {
          details: { host: hostId },
        })
      }
    }
    if (c && c.instance === instance) return c
    const fresh = { instance, polls: 0, lastSeen: now() }
    current.set(hostId, fresh)
    return fresh
  }

  return {
    claim(hostId, instance) {
      take(hostId, instance).lastSeen = now()
    },
    poll(hostId, instance) {
      const c = take(hostId, instance)
      c.polls++
      let ended = false
      return () => {
        if (ended) return
        ended = true
        c.polls--
        c.lastSeen = now()
      }
    },
    forget: (hostId) => void current.delete(hostId),
    isLost(hostId, afterMs) {
      const c = current.get(hostId)
      return c !== undefined && c.polls === 0 && now() - c.lastSeen > afterMs
    },
    newlyLost(afterMs) {
      const t = now()
      let crossed = false
      // Hosts idle past the bound since the last check: one pass over the idle ones.
      for (const c of current.values()) {
        if (c.polls === 0 && t - c.lastSeen > afterMs && c.lastSeen + afterMs >= checkedAt) crossed = true
      }
      checkedAt = t
      return crossed
    },
  }
}
