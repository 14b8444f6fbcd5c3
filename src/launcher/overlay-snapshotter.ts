import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fromSystemError, SnapshotExistsError, SnapshotNotFoundError, SnapshotterUnavailableError, syncDir } from '../core/index.js'
import { runCommand } from './run-command.js'
import { checkSnapshotKey, type Snapshotter } from './snapshotter.js'

export interface OverlaySnapshotterInit {
  root: string
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

async function isMounted(path: string): Promise<boolean> {
  const { readFile } = await import('node:fs/promises')
  const mounts = await readFile('/proc/self/mounts', 'utf8')
  return mounts.split('\n').some((line) => line.split(' ')[1] === path)
}

/**
 * overlayfs: the image directory is the read-only lowerdir; each checkout gets its own
 * upper/ and work/ and an overlay mounted at merged/ (the rootfs). Needs root.
 */
export function createOverlaySnapshotter(init: OverlaySnapshotterInit): Snapshotter {
  const active = join(init.root, 'active')
  const images = join(init.root, 'images')
  const checkouts = join(init.root, 'checkouts')
  const ready = (async () => {
    if (process.getuid?.() !== 0) throw new SnapshotterUnavailableError('Cannot use the overlay snapshotter: mounting needs root')
    await Promise.all([active, images, checkouts].map((d) => mkdir(d, { recursive: true })))
  })()
  ready.catch(() => {})

  return {
    name: 'overlay',
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
      const base = join(checkouts, checkSnapshotKey(key))
      if (!(await exists(image))) throw new SnapshotNotFoundError(`Cannot check out image: no image ${name}`)
      if (await exists(base)) throw new SnapshotExistsError(`Cannot check out image: ${key} exists`)
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
      checkSnapshotKey(key)
      const merged = join(checkouts, key, 'merged')
      if (await isMounted(merged)) await runCommand('umount', [merged])
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
