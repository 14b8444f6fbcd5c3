import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { HandOff } from '../fetcher/index.js'
import { createLauncher, type Activation, type Agent, type Launcher, type RunningRelease, type SnapshotterName } from '../launcher/index.js'

/**
 * The fetcher's hand-off to the launcher, composed here because parts meet only in the CLI:
 * install (verify + unpack) and activate, then start the release with the agent, stopping the
 * release's previous run first.
 *
 * A hand-off that fails is retried by the fetcher with backoff, so each retry must cost nothing
 * lasting: it reuses the activation it made (no new checkout per retry), and after every
 * hand-off, good or bad, the launcher is swept of what no activation needs. Launcher work is
 * serialised (gc must never run during an install).
 */
export function createHandOff(init: { root: string; snapshotter: SnapshotterName; agent?: Agent; log?: (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void }): {
  handOff: HandOff
  stopAll(): Promise<void>
  readonly launcher: Launcher
} {
  const { root, agent, log = () => {} } = init
  const launcher = createLauncher({ root, snapshotter: init.snapshotter })
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

  const handOff: HandOff = async (b, onState) => {
    try {
      const activation = await exclusive(async (): Promise<Activation> => {
        onState('unpacking')
        await launcher.install(() => createReadStream(b.path, { highWaterMark: 1 << 20 }), { expectedDigest: b.digest })
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
  }
  return {
    launcher,
    handOff,
    stopAll: async () => {
      await Promise.all([...running.values()].map((r) => r.stop()))
      await queue
    },
  }
}
