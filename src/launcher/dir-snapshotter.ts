import { rename } from 'node:fs/promises'
import { runCommand } from './run-command.js'
import { checkoutPaths, createLayoutDirs, directorySnapshotMethods, removeFromLayout, removeTree, snapshotLayout } from './snapshot-layout.js'
import type { Snapshotter } from './snapshotter.js'

export interface DirSnapshotterInit {
  /** Directory that holds active/, images/ and checkouts/. */
  root: string
}

/**
 * Plain directories, no privileges needed. Images are directories; a checkout is a copy made
 * with `cp -a --reflink=auto`, which clones extents on btrfs/XFS and copies elsewhere.
 */
export function createDirSnapshotter(init: DirSnapshotterInit): Snapshotter {
  const layout = snapshotLayout(init.root)
  const ready = createLayoutDirs(layout)

  return {
    name: 'dir',
    ...directorySnapshotMethods(layout, ready),
    async checkout(key, name) {
      await ready
      const [image, path] = await checkoutPaths(layout, key, name)
      // Copy into a temporary name and rename, so a crash never leaves a half copy under `key`.
      const tmp = `${path}.partial`
      await removeTree(tmp)
      try {
        await runCommand('cp', ['-a', '--reflink=auto', image, tmp])
        await rename(tmp, path)
      } catch (err) {
        // A failed copy (full disk, a path too long for this root) leaves nothing behind.
        await removeTree(tmp).catch(() => {})
        throw err
      }
      return path
    },
    async remove(key) {
      await ready
      await removeFromLayout(layout, key)
    },
  }
}
