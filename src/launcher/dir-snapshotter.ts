import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fromSystemError, SnapshotExistsError, SnapshotNotFoundError, syncDir } from '../core/index.js'
import { runCommand } from './run-command.js'
import { checkSnapshotKey, type Snapshotter } from './snapshotter.js'

export interface DirSnapshotterInit {
  /** Directory that holds active/, images/ and checkouts/. */
  root: string
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

/**
 * Plain directories, no privileges needed. Images are directories; a checkout is a copy made
 * with `cp -a --reflink=auto`, which clones extents on btrfs/XFS and copies elsewhere.
 */
export function createDirSnapshotter(init: DirSnapshotterInit): Snapshotter {
  const active = join(init.root, 'active')
  const images = join(init.root, 'images')
  const checkouts = join(init.root, 'checkouts')
  const ready = Promise.all([active, images, checkouts].map((d) => mkdir(d, { recursive: true })))

  return {
    name: 'dir',
    async prepare(key) {
      await ready
      const path = join(active, checkSnapshotKey(key))
      try {
        await mkdir(path)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new SnapshotExistsError(`Cannot prepare snapshot: ${key} exists`)
        throw fromSystemError(err, 'prepare snapshot', path)
      }
      return path
    },
    async commit(name, key) {
      await ready
      const from = join(active, checkSnapshotKey(key))
      const to = join(images, checkSnapshotKey(name))
      if (!(await exists(from))) throw new SnapshotNotFoundError(`Cannot commit snapshot: no active snapshot ${key}`)
      if (await exists(to)) throw new SnapshotExistsError(`Cannot commit snapshot: image ${name} exists`)
      await rename(from, to)
      await syncDir(images)
      return to
    },
    async checkout(key, name) {
      await ready
      const image = join(images, checkSnapshotKey(name))
      const path = join(checkouts, checkSnapshotKey(key))
      if (!(await exists(image))) throw new SnapshotNotFoundError(`Cannot check out image: no image ${name}`)
      if (await exists(path)) throw new SnapshotExistsError(`Cannot check out image: ${key} exists`)
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
      for (const dir of [active, images, checkouts]) await rm(join(dir, key), { recursive: true, force: true })
    },
    async image(name) {
      await ready
      const path = join(images, checkSnapshotKey(name))
      return (await exists(path)) ? path : undefined
    },
    async list() {
      await ready
      return { images: (await readdir(images)).sort(), checkouts: (await readdir(checkouts)).filter((n) => !n.endsWith('.partial')).sort(), active: (await readdir(active)).sort() }
    },
  }
}
