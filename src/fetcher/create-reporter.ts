import type { HostReport } from '../core/index.js'

/** Where reports go (the tracker API's report call). */
export interface ReportSink {
  report(hostId: string, r: HostReport, o?: { signal?: AbortSignal }): Promise<unknown>
}

export interface Reporter {
  /** Queues the latest state of a target; sent at most once per interval per target. */
  report(r: HostReport): void
  /** Sends whatever is queued now (at stop). */
  flush(): Promise<void>
  stop(): void
}

/**
 * Reports host state to the tracker without flooding it: per target only the newest report is
 * kept, sent at most once per `intervalMs`; a report the tracker did not take is sent again on
 * the next tick, so the last state (running, failed) always arrives once the tracker is back.
 */
export function createReporter(init: { client: ReportSink; hostId: string; intervalMs?: number; log?: (level: 'info' | 'warn', msg: string, f?: Record<string, unknown>) => void }): Reporter {
  const { client, hostId, intervalMs = 1000, log = () => {} } = init
  const latest = new Map<string, HostReport>()
  const lastSent = new Map<string, number>()
  const inFlight = new Set<string>()
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  let failing = false

  const send = async (digest: string): Promise<void> => {
    const r = latest.get(digest)
    if (!r || inFlight.has(digest)) return
    inFlight.add(digest)
    latest.delete(digest)
    lastSent.set(digest, performance.now())
    try {
      await client.report(hostId, r)
      if (failing) log('info', 'reports reach the tracker again')
      failing = false
    } catch (err) {
      if (!latest.has(digest)) latest.set(digest, r) // keep it unless a newer one came meanwhile
      if (!failing) log('warn', 'report failed; will retry', { message: (err as Error).message })
      failing = true
    } finally {
      inFlight.delete(digest)
      arm()
    }
  }

  const arm = (): void => {
    if (stopped || timer || latest.size === 0) return
    const now = performance.now()
    let wait = Infinity
    for (const d of latest.keys()) wait = Math.min(wait, Math.max(0, (lastSent.get(d) ?? -Infinity) + (failing ? 2 * intervalMs : intervalMs) - now))
    timer = setTimeout(() => {
      timer = undefined
      const t = performance.now()
      for (const d of [...latest.keys()]) if (t - (lastSent.get(d) ?? -Infinity) >= intervalMs - 1) void send(d)
      arm()
    }, wait)
    timer.unref()
  }

  return {
    report(r) {
      latest.set(r.digest, r)
      arm()
    },
    async flush() {
      clearTimeout(timer)
      timer = undefined
      await Promise.all([...latest.keys()].map((d) => send(d)))
    },
    stop() {
      stopped = true
      clearTimeout(timer)
    },
  }
}
