import type { FastifyInstance } from 'fastify'
import { afterEach } from 'vitest'
import { parseTokens } from '../../src/core/index.js'
import { buildTracker, type TrackerStore } from '../../src/tracker/index.js'
import { TOKENS_FILE } from './fleet.js'

/**
 * Tracker apps in this process on a given store (started here), closed with their store after
 * each test, newest first; `cleanups` takes more such steps. `call` is one authenticated request
 * whose JSON answer is returned (a status of 300 or more throws).
 */
export function useTrackerApps() {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })
  const app = async (store: TrackerStore): Promise<FastifyInstance> => {
    await store.start()
    const a = await buildTracker({ store, tokens: parseTokens(TOKENS_FILE), statusCacheMs: 0 })
    cleanups.push(async () => {
      await a.close()
      await store.stop()
    })
    return a
  }
  const call = async (a: FastifyInstance, method: 'GET' | 'PUT' | 'POST', url: string, token: string, payload?: object) => {
    const r = await a.inject({ method, url, headers: { authorization: `Bearer ${token}` }, payload })
    if (r.statusCode >= 300) throw new Error(`${method} ${url}: ${r.statusCode} ${r.body}`)
    return r.json()
  }
  return { app, call, cleanups }
}
