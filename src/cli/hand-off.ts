import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import type { HandOff } from '../fetcher/index.js'
import { createLauncher, type Agent, type RunningRelease, type SnapshotterName } from '../launcher/index.js'

/**
 * The fetcher's hand-off to the launcher, composed here because parts meet only in the CLI:
 * install (verify + unpack) and activate, then start the release with the agent, stopping the
 * release's previous run first.
 */
export function createHandOff(init: { root: string; snapshotter: SnapshotterName; agent?: Agent }): { handOff: HandOff; stopAll(): Promise<void> } {
  const { root, agent } = init
  const launcher = createLauncher({ root, snapshotter: init.snapshotter })
  const running = new Map<string, RunningRelease>()
  const handOff: HandOff = async (b, onState) => {
    onState('unpacking')
    await launcher.install(() => createReadStream(b.path, { highWaterMark: 1 << 20 }), { expectedDigest: b.digest })
    const activation = await launcher.activate({ release: b.release, version: b.version, digest: b.digest })
    if (!agent) return
    onState('launching')
    await running.get(b.release)?.stop()
    running.set(b.release, await agent.start({ ...activation, stateDir: join(root, 'agents') }))
  }
  return {
    handOff,
    stopAll: async () => {
      await Promise.all([...running.values()].map((r) => r.stop()))
    },
  }
}
