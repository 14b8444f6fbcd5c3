import { mkdir, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { SnapshotExistsError, SnapshotNotFoundError, SnapshotterUnavailableError, syncDir } from '../core/index.js'
import { runCommand } from './run-command.js'
import { checkSnapshotKey, type Snapshotter } from './snapshotter.js'

export interface BtrfsSnapshotterInit {
  /** A directory on a btrfs file system. */
  root: string
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

/**
 * btrfs: the active snapshot is a subvolume; commit takes a read-only snapshot of it (atomic in
 * btrfs) and deletes the active one; a checkout is a writable snapshot of the image, which
 * shares every extent until written. Needs root and a btrfs file system under `root`.
 */
export function createBtrfsSnapshotter(init: BtrfsSnapshotterInit): Snapshotter {
  const active = join(init.root, 'active')
  const images = join(init.root, 'images')
  const checkouts = join(init.root, 'checkouts')
  const ready = (async () => {
    if (process.getuid?.() !== 0) throw new SnapshotterUnavailableError('Cannot use the btrfs snapshotter: subvolume operations need root')
    await mkdir(init.root, { recursive: true })
    const fsType = (await runCommand('stat', ['-f', '-c', '%T', init.root])).trim()
    if (fsType !== 'btrfs') {
      throw new SnapshotterUnavailableError(`Cannot use the btrfs snapshotter: ${init.root} is on ${fsType}, not btrfs`, { details: { fsType } })
    }
    await Promise.all([active, images, checkouts].map((d) => mkdir(d, { recursive: true })))
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
      const path = join(active, checkSnapshotKey(key))
      if (await exists(path)) throw new SnapshotExistsError(`Cannot prepare snapshot: ${key} exists`)
      await runCommand('btrfs', ['subvolume', 'create', path])
      return path
    },
    async commit(name, key) {
      await ready
      const from = join(active, checkSnapshotKey(key))
      const to = join(images, checkSnapshotKey(name))
      if (!(await exists(from))) throw new SnapshotNotFoundError(`Cannot commit snapshot: no active snapshot ${key}`)
      if (await exists(to)) throw new SnapshotExistsError(`Cannot commit snapshot: image ${name} exists`)
      await runCommand('btrfs', ['subvolume', 'snapshot', '-r', from, to])
      await syncDir(images)
      await deleteSubvolume(from)
      return to
    },
    async checkout(key, name) {
      await ready
      const image = join(images, checkSnapshotKey(name))
      const path = join(checkouts, checkSnapshotKey(key))
      if (!(await exists(image))) throw new SnapshotNotFoundError(`Cannot check out image: no image ${name}`)
      if (await exists(path)) throw new SnapshotExistsError(`Cannot check out image: ${key} exists`)
      await runCommand('btrfs', ['subvolume', 'snapshot', image, path])
      return path
    },
    async remove(key) {
      await ready
      checkSnapshotKey(key)
      for (const dir of [active, images, checkouts]) await deleteSubvolume(join(dir, key))
      for (const dir of [active, images, checkouts]) await rm(join(dir, key), { recursive: true, force: true })
    },
    async image(name) {
      await ready
      const path = join(images, checkSnapshotKey(name))
      return (await exists(path)) ? path : undefined
    },
    async list() {
      await ready
      return { images: (await readdir(images)).sort(), checkouts: (await readdir(checkouts)).sort(), active: (await readdir(active)).sort() }
    },
  }
}
