import { readBodyLimited, type Log } from '../core/index.js'
import type { SessionContext } from './session-context.js'
import { pieceMatches, pieceSize } from './torrent-info.js'

export interface WebSeedFallback {
  /** Called periodically: fetches missing pieces from a web seed if peers have stalled. */
  tick(): void
}

/** A web seed URL for a log line, without a passkey in its path (`/seed/<token>/...`). */
export const redactSeedUrl = (url: string): string => url.replace(/\/seed\/[^/]+\//, '/seed/[redacted]/')

/**
 * BEP 19 web seeds as the fallback: after `afterMs` without progress from peers, up to two pieces
 * at a time come from a web seed by HTTP Range, checked against their hash like any piece (a seed
 * that sends wrong bytes, or more than a piece, costs a retry, never a stored piece).
 */
export function createWebSeedFallback(
  ctx: SessionContext,
  init: { urls: string[]; token?: string; afterMs: number; lastProgress: () => number; store: (index: number, data: Uint8Array) => Promise<void> },
  components: { fetch: typeof fetch; log: Log; signal: AbortSignal },
): WebSeedFallback {
  const { info, sched } = ctx
  const busy = new Set<number>()
  let backoffUntil = 0

  const fetchPiece = async (i: number): Promise<void> => {
    const url = init.urls[Math.floor(ctx.random() * init.urls.length)]!
    const start = i * info.pieceLength
    const size = pieceSize(info, i)
    try {
      const headers: Record<string, string> = { range: `bytes=${start}-${start + size - 1}` }
      if (init.token) headers.authorization = `Bearer ${init.token}`
      const res = await components.fetch(url, { headers, signal: AbortSignal.any([components.signal, AbortSignal.timeout(30_000)]) })
      if (res.status !== 206) {
        await res.body?.cancel().catch(() => {})
        throw new Error(`web seed answered ${res.status}`)
      }
      // Exactly one piece: a web seed that sends more (or never stops) is cut off there.
      const data = await readBodyLimited(res, size, `piece ${i} from the web seed`)
      const wait = ctx.limits.down?.take(data.length) ?? 0
      if (wait > 0) await new Promise<void>((r) => ctx.later(wait, r))
      if (!pieceMatches(info, i, data)) {
        ctx.counters.hashFailures++
        ctx.events.emit('hash-failure', { index: i, addr: redactSeedUrl(url) })
        throw new Error(`piece ${i} from the web seed does not match its hash`)
      }
      ctx.counters.bytesFromOrigin += data.length
      ctx.totals.downloaded += data.length
      await init.store(i, data)
    } catch (err) {
      if (ctx.closed()) return
      backoffUntil = performance.now() + 2_000
      components.log('warn', 'web seed failed', { url: redactSeedUrl(url), piece: i, message: (err as Error).message })
    }
  }

  return {
    tick() {
      if (ctx.closed() || sched.missing === 0 || !init.urls.length) return
      const now = performance.now()
      if (now - init.lastProgress() < init.afterMs || now < backoffUntil || busy.size >= 2) return
      const i = sched.pick(() => true, busy, { unheld: true })
      if (i === undefined) return
      busy.add(i)
      sched.start(i)
      void fetchPiece(i).finally(() => {
        busy.delete(i)
        sched.finish(i)
      })
    },
  }
}
