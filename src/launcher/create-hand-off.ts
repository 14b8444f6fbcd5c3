import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { AbortedError, NO_LOG, openHashedFile, type Digest, type Failpoints, type HandOff, type Log } from '../core/index.js'
import type { Agent, RunningRelease } from './agent.js'
import { createLauncher, type Launcher } from './create-launcher.js'
import type { SnapshotterName } from './snapshotter.js'

export interface HandOffInit {
  /** Launcher state directory. */
  root: string
  snapshotter: SnapshotterName
  /** What starts the release; none: install and activate only. */
  agent?: Agent
  failpoints?: Failpoints
}

/**
 * The host's hand-off (the core HandOff contract) on the launcher: stage = verify and unpack into
 * an image; activate = check it out, swap the release's `current` to it, stop the release's
 * running version and start this one with the agent.
 *
 * A step that fails is retried by the fetcher with backoff, so each retry must cost nothing
 * lasting: an activation of the same version is reused (no new checkout per retry), and after
 * every step, good or bad, the launcher is swept of what no activation needs. Launcher work is
 * serialised (gc must never run during an install).
 */
export function createHandOff(init: HandOffInit, components: { log?: Log } = {}): HandOff & { readonly launcher: Launcher } {
  const { root, agent } = init
  const log = components.log ?? NO_LOG
  const launcher = createLauncher({ root, snapshotter: init.snapshotter, failpoints: init.failpoints })
  const running = new Map<string, RunningRelease>()
  let queue: Promise<unknown> = Promise.resolve()
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn)
    queue = run.catch(() => {})
    return run
  }
  const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false)
  const collect = (): Promise<void> =>
    exclusive(async () => {
      const { removed, failed } = await launcher.gc({ keepDigests: [...staged] as Digest[] })
      if (removed.length) log('info', 'launcher collected', { removed })
      for (const f of failed) log('warn', 'launcher cannot remove', f)
    }).catch((err: unknown) => log('warn', 'launcher gc failed', { message: (err as Error).message }))

  const staged = new Set<string>() // images staged, not yet activated: kept by gc
  const starting = new Map<string, Promise<unknown>>()
  const activateNow = async (b: Parameters<HandOff['activate']>[0], onState: Parameters<HandOff['activate']>[1], options: NonNullable<Parameters<HandOff['activate']>[2]>): Promise<void> => {
    const { signal, onHealth } = options
    const abandoned = (): void => {
      if (signal?.aborted) throw new AbortedError(`Activation of ${b.release}@${b.version} abandoned: another version was asked for`)
    }
    abandoned()
    try {
      const activation = await exclusive(async () => {
        // A retry after a failed start: the activation made last time is current and intact.
        const current = await launcher.current(b.release).catch(() => undefined)
        if (current && current.digest === b.digest && current.version === b.version && (await exists(current.rootfs))) return current
        return launcher.activate({ release: b.release, version: b.version, digest: b.digest })
      })
      staged.delete(b.digest)
      if (!agent) return
      abandoned()
      onState('launching')
      await running.get(b.release)?.stop()
      running.delete(b.release)
      const r = await agent.start({ ...activation, stateDir: join(root, 'agents') })
      running.set(b.release, r)
      if (r.health) {
        // Healthy first (or UNHEALTHY), unless this activation is abandoned meanwhile.
        const gone = new Promise<never>((_, reject) => signal?.addEventListener('abort', () => reject(new AbortedError(`Activation of ${b.release}@${b.version} abandoned while waiting for its health check`)), { once: true }))
        gone.catch(() => {})
        await Promise.race([r.health.ready, gone])
        r.health.onChange((healthy, reason) => onHealth?.(healthy ? { state: 'running' } : { state: 'unhealthy', code: 'UNHEALTHY', message: `${b.release}@${b.version}: ${reason}` }))
      }
      r.done.catch((err: unknown) => {
        if (running.get(b.release) === r) onHealth?.({ state: 'failed', code: (err as { code?: string }).code ?? 'LAUNCH_FAILED', message: (err as Error).message })
      })
    } finally {
      await collect()
    }
  }

  return {
    launcher,
    async stage(b, onState) {
      onState('unpacking')
      const meta = await exclusive(() => launcher.install(() => openHashedFile(b.path), { expectedDigest: b.digest }))
      staged.add(b.digest)
      return { verified: meta.verified }
    },
    activate(b, onState, options = {}) {
      // One activation of a release at a time, so an abandoned one (its signal aborted: another
      // version was asked for) can never stop the version that replaced it.
      const prior = starting.get(b.release) ?? Promise.resolve()
      const run = prior.then(() => activateNow(b, onState, options))
      starting.set(b.release, run.catch(() => {}))
      return run
    },
    async stopAll() {
      await Promise.all([...running.values()].map((r) => r.stop()))
      await queue
    },
  }
}
