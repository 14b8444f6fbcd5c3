import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { SnapshotExistsError, SnapshotterUnavailableError, syncDir } from '../core/index.js'
import { runCommand } from './run-command.js'
import { checkoutPaths, commitPaths, createLayoutDirs, exists, layoutReadMethods, removeFromLayout, snapshotLayout } from './snapshot-layout.js'
import { checkSnapshotKey, type Snapshotter } from './snapshotter.js'

export interface BtrfsSnapshotterInit {
  /** A directory on a btrfs file system. */
  root: string
}

/**
 * btrfs: the active snapshot is a subvolume; commit takes a read-only snapshot of it (atomic in
 * btrfs) and deletes the active one; a checkout is a writable snapshot of the image, which
 * shares every extent until written. Needs root and a btrfs file system under `root`.
 */
export function createBtrfsSnapshotter(init: BtrfsSnapshotterInit): Snapshotter {
  const layout = snapshotLayout(init.root)
  const ready = (async () => {
    if (process.getuid?.() !== 0) throw new SnapshotterUnavailableError('Cannot use the btrfs snapshotter: subvolume operations need root')
    await mkdir(init.root, { recursive: true })
    const fsType = (await runCommand('stat', ['-f', '-c', '%T', init.root])).trim()
    if (fsType !== 'btrfs') {
      throw new SnapshotterUnavailableError(`Cannot use the btrfs snapshotter: ${init.root} is on ${fsType}, not btrfs`, { details: { fsType } })
    }
    await createLayoutDirs(layout)
  })()
  ready.catch(() => {})

  const deleteSubvolume = async (path: string): Promise<void> => {
    if (!(await exists(path))) return
    await runCommand('btrfs', ['property', 'set', '-ts', path, 'ro', 'false']).catch(() => {})
    await runCommand('btrfs', ['subvolume', 'delete', path])
  }

  return {
    name: 'btrfs',
    async prepare(key) {
      await ready
      const path = join(layout.active, checkSnapshotKey(key))
      if (await exists(path)) throw new SnapshotExistsError(`Cannot prepare snapshot: ${key} exists`)
      await runCommand('btrfs', ['subvolume', 'create', path])
      return path
    },
    async commit(name, key) {
      await ready
      const [from, to] = await commitPaths(layout, name, key)
      await runCommand('btrfs', ['subvolume', 'snapshot', '-r', from, to])
      await syncDir(layout.images)
      await deleteSubvolume(from)
      return to
    },
    async checkout(key, name) {
      await ready
      const [image, path] = await checkoutPaths(layout, key, name)
      await runCommand('btrfs', ['subvolume', 'snapshot', image, path])
      return path
    },
    async remove(key) {
      await ready
      await removeFromLayout(layout, key, deleteSubvolume)
    },
    ...layoutReadMethods(layout, ready),
  }
}
