import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { LaunchFailedError, UnhealthyError } from '../core/index.js'
import type { ReleaseHealth, RunningRelease } from './agent.js'

export interface SuperviseInit {
  command: string
  args: string[]
  options: SpawnOptions
  /** 'never': run once; 'on-failure': restart after a non-zero exit; 'always': restart after any exit. */
  restart: 'always' | 'on-failure' | 'never'
  /** Most restarts before giving up with LAUNCH_FAILED. */
  maxRestarts?: number
  /** First backoff; doubles per restart up to maxBackoffMs. */
  backoffMs?: number
  maxBackoffMs?: number
  /** Grace period between SIGTERM and SIGKILL on stop. */
  stopGraceMs?: number
  /** Where child output goes. */
  stdout?: NodeJS.WritableStream
  stderr?: NodeJS.WritableStream
  label: string
  /**
   * Periodic health check of a running child: after `retries` consecutive failures the child is
   * killed (SIGTERM) and treated as failed, so the restart policy decides what happens next.
   */
  health?: { check: (signal: AbortSignal) => Promise<boolean>; intervalMs: number; timeoutMs: number; retries: number }
}

/**
 * Runs a child and keeps it running per its restart policy, with exponential backoff, until
 * stop() or until restarts run out. Output is forwarded as it comes.
 */
export function superviseChild(init: SuperviseInit): RunningRelease {
  const { restart, maxRestarts = 5, backoffMs = 200, maxBackoffMs = 10_000, stopGraceMs = 5_000, label } = init
  let child: ChildProcess | undefined
  let stopping = false
  let restarts = 0
  let timer: NodeJS.Timeout | undefined
  let healthTimer: NodeJS.Timeout | undefined
  let unhealthy = false
  let settle!: (v: { exitCode: number }) => void
  let fail!: (e: Error) => void
  const done = new Promise<{ exitCode: number }>((resolve, reject) => {
    settle = resolve
    fail = reject
  })
  done.catch(() => {})

  // Health as the fetcher sees it: ready at the first passed check (UNHEALTHY if none passed
  // within `retries` intervals of the start), then each change.
  let healthy = false
  let everReady = false
  const listeners: Array<(healthy: boolean, reason: string) => void> = []
  let markReady!: () => void
  let refuse!: (e: Error) => void
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve
    refuse = reject
  })
  ready.catch(() => {})
  // A release that finished cleanly before its first check ran (a one-shot job) is not unhealthy.
  done.then(() => markReady(), (e: Error) => refuse(e))
  const startedAt = performance.now()
  const healthOf = (ok: boolean, reason: string): void => {
    if (ok && !everReady) {
      everReady = true
      healthy = true
      markReady()
      return
    }
    if (!everReady) {
      if (!ok) refuse(new UnhealthyError(`${label} did not pass its health check within ${init.health!.retries} intervals: ${reason}`, { details: { reason } }))
      return
    }
    if (ok !== healthy) {
      healthy = ok
      for (const l of listeners) l(ok, reason)
    }
  }

  const startOnce = (): void => {
    let c: ChildProcess
    try {
      c = spawn(init.command, init.args, { ...init.options, stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (err) {
      fail(new LaunchFailedError(`Cannot start ${label}: ${(err as Error).message}`, { cause: err }))
      return
    }
    child = c
    unhealthy = false
    if (init.health) {
      healthTimer = probeHealth(init.health, {
        current: () => child === c && !stopping,
        ready: () => everReady,
        sinceStartMs: () => performance.now() - startedAt,
        onResult: healthOf,
        kill: () => {
          unhealthy = true
          c.kill('SIGTERM')
        },
      })
    }
    if (init.stdout) c.stdout?.pipe(init.stdout, { end: false })
    else c.stdout?.resume()
    if (init.stderr) c.stderr?.pipe(init.stderr, { end: false })
    else c.stderr?.resume()
    c.once('error', (err) => {
      child = undefined
      fail(new LaunchFailedError(`Cannot start ${label}: ${err.message}`, { cause: err, details: { command: init.command } }))
    })
    c.once('exit', (code, signal) => {
      child = undefined
      if (healthTimer) clearInterval(healthTimer)
      // A child killed for failing its health check has failed, whatever its exit status.
      const exitCode = unhealthy ? 125 : (code ?? 128)
      if (stopping) return settle({ exitCode })
      const again = restart === 'always' || (restart === 'on-failure' && exitCode !== 0)
      if (!again) {
        if (exitCode === 0) settle({ exitCode })
        else fail(new LaunchFailedError(`Cannot run ${label}: ${unhealthy ? 'it failed its health check' : `it exited with ${signal ? `signal ${signal}` : `code ${exitCode}`}`}`, { details: { exitCode, signal, unhealthy } }))
        return
      }
      if (restarts >= maxRestarts) {
        fail(new LaunchFailedError(`Cannot keep ${label} running: it exited ${restarts + 1} times (last ${unhealthy ? 'failed health check' : (signal ?? exitCode)})`, { details: { exitCode, restarts, unhealthy } }))
        return
      }
      const delay = Math.min(maxBackoffMs, backoffMs * 2 ** restarts)
      restarts++
      timer = setTimeout(startOnce, delay)
    })
  }
  startOnce()

  const health: ReleaseHealth | undefined = init.health ? { ready, onChange: (l) => void listeners.push(l) } : undefined
  return {
    done,
    ...(health ? { health } : {}),
    async stop() {
      stopping = true
      if (timer) clearTimeout(timer)
      if (healthTimer) clearInterval(healthTimer)
      const c = child
      if (!c) {
        settle({ exitCode: 0 })
        return
      }
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()))
      c.kill('SIGTERM')
      const kill = setTimeout(() => c.kill('SIGKILL'), stopGraceMs)
      await exited
      clearTimeout(kill)
    },
  }
}

/**
 * Runs a child's health checks: until the first pass, up to every 250 ms (a healthy start shows at
 * once), reporting unhealthy (and killing the child) only after `retries` intervals without one;
 * after it, every interval, unhealthy after `retries` failures in a row, healthy again on a pass.
 */
function probeHealth(
  h: NonNullable<SuperviseInit['health']>,
  on: { current: () => boolean; ready: () => boolean; sinceStartMs: () => number; onResult: (ok: boolean, reason: string) => void; kill: () => void },
): NodeJS.Timeout {
  let failures = 0
  let checking = false
  let lastError = ''
  let lastProbe = performance.now()
  const probe = (): void => {
    if (checking || !on.current()) return
    checking = true
    h.check(AbortSignal.timeout(h.timeoutMs))
      .catch((err: unknown) => {
        lastError = (err as Error).message
        return false
      })
      .then((ok) => {
        checking = false
        if (!on.current()) return
        if (!ok && !lastError) lastError = 'check failed'
        if (!on.ready()) {
          if (ok) on.onResult(true, '')
          else if (on.sinceStartMs() >= h.intervalMs * h.retries) {
            on.onResult(false, lastError)
            on.kill()
          }
          return
        }
        failures = ok ? 0 : failures + 1
        if (ok) on.onResult(true, '')
        if (failures >= h.retries) {
          on.onResult(false, `${failures} health checks failed in a row (last: ${lastError})`)
          on.kill()
        }
        lastError = ''
      })
  }
  return setInterval(() => {
    if (!on.ready() || performance.now() - lastProbe >= h.intervalMs) {
      lastProbe = performance.now()
      probe()
    }
  }, Math.min(h.intervalMs, 250))
}
