import cliProgress from 'cli-progress'
import { formatBytes, formatDuration } from './format.js'

export interface ProgressReporter {
  /** Sets the figures: bytes done of total, and a short phase label. */
  update(done: number, total: number, phase?: string): void
  stop(): void
}

export interface ProgressInit {
  label: string
  stream: NodeJS.WriteStream
  /** Off for --quiet or --json. */
  enabled: boolean
  /** Interval between plain lines when not on a terminal. */
  lineIntervalMs?: number
  now?: () => number
}

/**
 * Progress for long work: a bar with rate and ETA on a terminal, a plain line every few seconds
 * in a pipe or a CI log (so a log shows that work goes on without drowning in redraws).
 */
export function createProgress(init: ProgressInit): ProgressReporter {
  const { label, stream, enabled, lineIntervalMs = 5000, now = Date.now } = init
  if (!enabled) return { update() {}, stop() {} }
  const started = now()
  let phase = ''
  let phaseStarted = started
  let lastLine = lineIntervalMs === 0 ? -Infinity : started
  let printed = false
  let closed = false

  const rateOf = (done: number): number => done / Math.max(0.001, (now() - phaseStarted) / 1000)

  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${label} {phase} [{bar}] {percentage}% | {doneText} / {totalText} | {rateText} | ETA {etaText}`,
        barsize: 30,
        hideCursor: true,
        clearOnComplete: false,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    )
    let started = false
    return {
      update(done, total, nextPhase = '') {
        if (nextPhase !== phase) {
          phase = nextPhase
          phaseStarted = now()
        }
        const rate = rateOf(done)
        const payload = {
          phase,
          doneText: formatBytes(done),
          totalText: formatBytes(total),
          rateText: `${formatBytes(rate)}/s`,
          etaText: formatDuration((total - done) / Math.max(rate, 1)),
        }
        if (!started) {
          bar.start(Math.max(total, 1), done, payload)
          started = true
        } else {
          bar.setTotal(Math.max(total, 1))
          bar.update(done, payload)
        }
      },
      stop() {
        if (started) bar.stop()
      },
    }
  }

  return {
    update(done, total, nextPhase = '') {
      if (nextPhase !== phase) {
        phase = nextPhase
        phaseStarted = now()
        closed = false
      }
      const t = now()
      // At most one line per interval; and a closing 100% line once any line was printed, so
      // that a log shows the end of work it showed the start of (short work stays silent).
      if (t - lastLine < lineIntervalMs && !(done >= total && printed && !closed)) return
      if (done >= total) closed = true
      printed = true
      lastLine = t
      const rate = rateOf(done)
      const pct = total > 0 ? Math.floor((done / total) * 100) : 0
      stream.write(
        `${label}${phase ? ` ${phase}` : ''}: ${formatBytes(done)} / ${formatBytes(total)} (${pct}%), ${formatBytes(rate)}/s, ETA ${formatDuration((total - done) / Math.max(rate, 1))}\n`,
      )
    },
    stop() {},
  }
}

/** Interval of plain progress lines: SHOAL_PROGRESS_INTERVAL_MS, default 5 s. */
export function progressInterval(io: { env: NodeJS.ProcessEnv }): number {
  const raw = io.env.SHOAL_PROGRESS_INTERVAL_MS
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : 5000
}
