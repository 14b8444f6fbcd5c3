import { rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { runCommand } from './run-command.js'
import { checkoutPaths, commitByRename, createLayoutDirs, imagePath, listLayout, prepareDirectory, snapshotLayout } from './snapshot-layout.js'
import { checkSnapshotKey, type Snapshotter } from './snapshotter.js'

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
    async prepare(key) {
      await ready
      return prepareDirectory(layout, key)
    },
    async commit(name, key) {
      await ready
      return commitByRename(layout, name, key)
    },
    async checkout(key, name) {
      await ready
      const [image, path] = await checkoutPaths(layout, key, name)
      // Copy into a temporary name and rename, so a crash never leaves a half copy under `key`.
      const tmp = `${path}.partial`
      await rm(tmp, { recursive: true, force: true })
      await runCommand('cp', ['-a', '--reflink=auto', image, tmp])
      await rename(tmp, path)
      return path
    },
    async remove(key) {
      await ready
      checkSnapshotKey(key)
      for (const dir of [layout.active, layout.images, layout.checkouts]) await rm(join(dir, key), { recursive: true, force: true })
    },
    async image(name) {
      await ready
      return imagePath(layout, name)
    },
    async list() {
      await ready
      return listLayout(layout)
    },
  }
}
