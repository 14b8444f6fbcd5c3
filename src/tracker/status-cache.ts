import { NotFoundError, type RolloutStatus } from '../core/index.js'
import { computeRolloutStatus } from './rollout-status.js'
import type { TrackerStore } from './tracker-store.js'

/**
 * Rollout statuses computed at most every `ttlMs` per channel and shared by every reader
 * (dashboards, CLIs in --watch, the metrics gauge); `notBefore` asks for one computed after a
 * change (an event stream that saw a change must not be sent a status cached from before it).
 */
export function createStatusCache(store: TrackerStore, ttlMs: number): {
  statusOf(release: string, channel: string, notBefore?: number): Promise<RolloutStatus>
  invalidate(release: string, channel: string): void
} {
  const cache = new Map<string, { at: number; value: RolloutStatus }>()
  return {
    async statusOf(release, channel, notBefore = 0) {
      const key = `${release}@${channel}`
      const cached = cache.get(key)
      if (cached && Date.now() - cached.at < ttlMs && cached.at >= notBefore) return cached.value
      const at = Date.now() // stamped before reading, so a report during the read counts as newer
      const ch = await store.getChannel(release, channel)
      if (!ch) throw new NotFoundError(`Cannot find channel ${release}@${channel}`)
      const history = await store.rolloutHistory(release, channel)
      const followers = (await store.listHosts()).filter((h) => h.follows.includes(key))
      const value = computeRolloutStatus(ch, history.at(-1), followers, await store.reportsFor(ch.digest))
      cache.set(key, { at, value })
      return value
    },
    invalidate: (release, channel) => void cache.delete(`${release}@${channel}`),
  }
}
