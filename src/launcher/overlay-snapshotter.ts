import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { SnapshotterUnavailableError } from '../core/index.js'
import { runCommand } from './run-command.js'
import { checkoutPaths, createLayoutDirs, directorySnapshotMethods, removeFromLayout, snapshotLayout } from './snapshot-layout.js'
import type { Snapshotter } from './snapshotter.js'

export interface OverlaySnapshotterInit {
  root: string
}

async function isMounted(path: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mounts', 'utf8')
  return mounts.split('\n').some((line) => line.split(' ')[1] === path)
}

/**
 * overlayfs: the image directory is the read-only lowerdir; each checkout gets its own
 * upper/ and work/ and an overlay mounted at merged/ (the rootfs). Needs root.
 */
export function createOverlaySnapshotter(init: OverlaySnapshotterInit): Snapshotter {
  const layout = snapshotLayout(init.root)
  const ready = (async () => {
    if (process.getuid?.() !== 0) throw new SnapshotterUnavailableError('Cannot use the overlay snapshotter: mounting needs root')
    await createLayoutDirs(layout)
  })()
  ready.catch(() => {})

  return {
    name: 'overlay',
    ...directorySnapshotMethods(layout, ready),
    async checkout(key, name) {
      await ready
      const [image, base] = await checkoutPaths(layout, key, name)
      const merged = join(base, 'merged')
      await mkdir(join(base, 'upper'), { recursive: true })
      await mkdir(join(base, 'work'), { recursive: true })
      await mkdir(merged, { recursive: true })
      try {
        await runCommand('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${image},upperdir=${join(base, 'upper')},workdir=${join(base, 'work')}`, merged])
      } catch (err) {
        await rm(base, { recursive: true, force: true })
        throw err
      }
      return merged
    },
    async remove(key) {
      await ready
      // A checkout's overlay is unmounted before its directories go.
      await removeFromLayout(layout, key, async (path) => {
        const merged = join(path, 'merged')
        if (await isMounted(merged)) await runCommand('umount', [merged])
      })
    },
  }
}
