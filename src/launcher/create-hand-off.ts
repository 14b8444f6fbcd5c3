import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { NO_LOG, type Failpoints, type HandOff, type Log } from '../core/index.js'
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
      const { removed, failed } = await launcher.gc()
      if (removed.length) log('info', 'launcher collected', { removed })
      for (const f of failed) log('warn', 'launcher cannot remove', f)
    }).catch((err: unknown) => log('warn', 'launcher gc failed', { message: (err as Error).message }))

  return {
    launcher,
    async stage(b, onState) {
      onState('unpacking')
      const meta = await exclusive(() => launcher.install(() => createReadStream(b.path, { highWaterMark: 1 << 20 }), { expectedDigest: b.digest }))
      return { verified: meta.verified }
    },
    async activate(b, onState) {
      try {
        const activation = await exclusive(async () => {
          // A retry after a failed start: the activation made last time is current and intact.
          const current = await launcher.current(b.release).catch(() => undefined)
          if (current && current.digest === b.digest && current.version === b.version && (await exists(current.rootfs))) return current
          return launcher.activate({ release: b.release, version: b.version, digest: b.digest })
        })
        if (!agent) return
        onState('launching')
        await running.get(b.release)?.stop()
        running.delete(b.release)
        running.set(b.release, await agent.start({ ...activation, stateDir: join(root, 'agents') }))
      } finally {
        await collect()
      }
    },
    async stopAll() {
      await Promise.all([...running.values()].map((r) => r.stop()))
      await queue
    },
  }
}
