import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fromSystemError, SnapshotExistsError, SnapshotNotFoundError, syncDir } from '../core/index.js'
import { runCommand } from './run-command.js'
import { checkSnapshotKey, type Snapshotter } from './snapshotter.js'

/** The three directories every snapshotter keeps under its root. */
export interface SnapshotLayout {
  active: string
  images: string
  checkouts: string
}

export function snapshotLayout(root: string): SnapshotLayout {
  return { active: join(root, 'active'), images: join(root, 'images'), checkouts: join(root, 'checkouts') }
}

export async function createLayoutDirs(layout: SnapshotLayout): Promise<void> {
  await Promise.all([layout.active, layout.images, layout.checkouts].map((d) => mkdir(d, { recursive: true })))
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

/** prepare() for snapshotters whose active snapshot is a plain directory. */
export async function prepareDirectory(layout: SnapshotLayout, key: string): Promise<string> {
  const path = join(layout.active, checkSnapshotKey(key))
  try {
    await mkdir(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new SnapshotExistsError(`Cannot prepare snapshot: ${key} exists`)
    throw fromSystemError(err, 'prepare snapshot', path)
  }
  return path
}

/** Checks a commit's preconditions; resolves to [from, to]. */
export async function commitPaths(layout: SnapshotLayout, name: string, key: string): Promise<[string, string]> {
  const from = join(layout.active, checkSnapshotKey(key))
  const to = join(layout.images, checkSnapshotKey(name))
  if (!(await exists(from))) throw new SnapshotNotFoundError(`Cannot commit snapshot: no active snapshot ${key}`)
  if (await exists(to)) throw new SnapshotExistsError(`Cannot commit snapshot: image ${name} exists`)
  return [from, to]
}

/** commit() by one rename(2): the image appears complete or not at all. */
export async function commitByRename(layout: SnapshotLayout, name: string, key: string): Promise<string> {
  const [from, to] = await commitPaths(layout, name, key)
  await rename(from, to)
  await syncDir(layout.images)
  return to
}

/** Checks a checkout's preconditions; resolves to [image path, checkout path]. */
export async function checkoutPaths(layout: SnapshotLayout, key: string, name: string): Promise<[string, string]> {
  const image = join(layout.images, checkSnapshotKey(name))
  const path = join(layout.checkouts, checkSnapshotKey(key))
  if (!(await exists(image))) throw new SnapshotNotFoundError(`Cannot check out image: no image ${name}`)
  if (await exists(path)) throw new SnapshotExistsError(`Cannot check out image: ${key} exists`)
  return [image, path]
}

export async function imagePath(layout: SnapshotLayout, name: string): Promise<string | undefined> {
  const path = join(layout.images, checkSnapshotKey(name))
  return (await exists(path)) ? path : undefined
}

export async function listLayout(layout: SnapshotLayout): Promise<{ images: string[]; checkouts: string[]; active: string[] }> {
  const checkouts = (await readdir(layout.checkouts)).sort()
  return {
    images: (await readdir(layout.images)).sort(),
    // A '.partial' checkout is a copy a crash or a failed copy cut off (dir snapshotter); it is
    // listed with the active snapshots, which gc removes as leftovers.
    checkouts: checkouts.filter((n) => !n.endsWith('.partial')),
    active: [...(await readdir(layout.active)), ...checkouts.filter((n) => n.endsWith('.partial'))].sort(),
  }
}

/**
 * Removes a directory tree, however deep: Node's recursive rm builds full paths and fails with
 * ENAMETOOLONG past PATH_MAX, where GNU rm walks with openat(2) and does not.
 */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENAMETOOLONG' && code !== 'ELOOP' && code !== 'ENOTEMPTY') throw fromSystemError(err, 'remove snapshot directory', path)
    await runCommand('rm', ['-rf', '--one-file-system', '--', path])
  }
}

/** Removes `key` from active/, images/ and checkouts/ (a `.partial` leftover too), calling `before` on each path first. */
export async function removeFromLayout(layout: SnapshotLayout, key: string, before?: (path: string) => Promise<void>): Promise<void> {
  const partial = key.endsWith('.partial')
  checkSnapshotKey(partial ? key.slice(0, -'.partial'.length) : key)
  for (const dir of partial ? [layout.checkouts] : [layout.active, layout.images, layout.checkouts]) {
    const path = join(dir, key)
    await before?.(path)
    await removeTree(path)
  }
}

/**
 * The methods every snapshotter whose active snapshots and images are plain directories shares
 * (dir, overlay): prepare = mkdir, commit = rename, image and list by the layout. Each waits
 * for `ready` (the backend's own checks and the layout's directories).
 */
/** Reading the layout is the same for every backend. */
export function layoutReadMethods(layout: SnapshotLayout, ready: Promise<void>): Pick<Snapshotter, 'image' | 'list'> {
  return {
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

export function directorySnapshotMethods(layout: SnapshotLayout, ready: Promise<void>): Pick<Snapshotter, 'prepare' | 'commit' | 'image' | 'list'> {
  return {
    async prepare(key) {
      await ready
      return prepareDirectory(layout, key)
    },
    async commit(name, key) {
      await ready
      return commitByRename(layout, name, key)
    },
    ...layoutReadMethods(layout, ready),
  }
}
