import { randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, readlink, rename, rm, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import {
  checkName,
  digestHex,
  fromSystemError,
  NO_FAILPOINTS,
  ReleaseNotActiveError,
  syncDir,
  writeFileAtomically,
  type BundleLimits,
  type Digest,
  type Failpoints,
  type LaunchConfig,
} from '../core/index.js'
import { createSnapshotter } from './create-snapshotter.js'
import { unpackInto } from './extract-bundle.js'
import type { Snapshotter, SnapshotterName } from './snapshotter.js'

export interface LauncherInit {
  /** State directory: snapshots/, meta/, releases/. */
  root: string
  /** Default 'dir'. */
  snapshotter?: SnapshotterName
  limits?: Partial<BundleLimits>
  /** Crash points for tests (see core/failpoints); inert by default. */
  failpoints?: Failpoints
}

export interface ImageMeta {
  digest: Digest
  size: number
  launch?: LaunchConfig
  installedAt: string
}

/** One activation of a release: what `current` and `previous` point at. */
export interface Activation {
  id: string
  release: string
  version: string
  digest: Digest
  /** The writable checkout the container runs from. */
  rootfs: string
  checkoutKey: string
  snapshotter: SnapshotterName
  launch?: LaunchConfig
  activatedAt: string
}

export interface Launcher {
  readonly snapshotter: Snapshotter
  /** Verifies and unpacks a bundle into a committed image (a no-op when already installed). */
  install(bundle: () => Readable, options?: { expectedDigest?: Digest; signal?: AbortSignal; onProgress?: (bytes: number) => void }): Promise<ImageMeta>
  /** Checks out an installed image for `release` and swaps the release's `current` pointer to it. */
  activate(subject: { release: string; version: string; digest: Digest }): Promise<Activation>
  current(release: string): Promise<Activation | undefined>
  previous(release: string): Promise<Activation | undefined>
  /** Makes `previous` current again (and the current one previous). */
  rollback(release: string): Promise<Activation>
  /**
   * Removes images and checkouts that no current or previous pointer needs (nor `keepDigests`),
   * and installs a crash cut off. Entries that cannot be removed are listed in `failed`; the
   * sweep goes on past them. Not safe to run during an install.
   */
  gc(options?: { keepDigests?: Digest[] }): Promise<{ removed: string[]; failed: { what: string; code: string; message: string }[] }>
}

/**
 * Activation keeps a per-release pointer (`releases/<r>/current`, a symlink to an activation
 * record) that is swapped with rename(2), so a crash at any moment leaves the old or the new
 * release active. An image is committed only after it verified completely (see unpackInto), so
 * no pointer can ever reach a half-unpacked tree.
 */
export function createLauncher(init: LauncherInit): Launcher {
  const snapshotterName = init.snapshotter ?? 'dir'
  const fp = init.failpoints ?? NO_FAILPOINTS
  const snapshotter = createSnapshotter(snapshotterName, join(init.root, 'snapshots'))
  const metaDir = join(init.root, 'meta')
  const releasesDir = join(init.root, 'releases')

  const readMeta = async (digest: Digest): Promise<ImageMeta | undefined> => {
    try {
      return JSON.parse(await readFile(join(metaDir, `${digestHex(digest)}.json`), 'utf8')) as ImageMeta
    } catch {
      return undefined
    }
  }

  const pointer = async (release: string, which: 'current' | 'previous'): Promise<Activation | undefined> => {
    checkName('release', release)
    const link = join(releasesDir, release, which)
    let target: string
    try {
      target = await readlink(link)
    } catch {
      return undefined
    }
    try {
      return JSON.parse(await readFile(join(releasesDir, release, target), 'utf8')) as Activation
    } catch (err) {
      throw fromSystemError(err, `read ${which} activation of ${release}`, link)
    }
  }

  /** Points `which` at `target` (relative to the release dir) with one rename. */
  const swap = async (release: string, which: 'current' | 'previous', target: string): Promise<void> => {
    const dir = join(releasesDir, release)
    const tmp = join(dir, `.${which}.${randomBytes(4).toString('hex')}`)
    await symlink(target, tmp)
    await fp.hit('launcher.swap.linked')
    await rename(tmp, join(dir, which))
    await syncDir(dir)
  }

  return {
    snapshotter,

    async install(bundle, options = {}) {
      if (options.expectedDigest) {
        const existing = await snapshotter.image(digestHex(options.expectedDigest))
        const meta = await readMeta(options.expectedDigest)
        if (existing && meta) return meta
      }
      const activeKey = `install-${randomBytes(6).toString('hex')}`
      const dir = await snapshotter.prepare(activeKey)
      try {
        const result = await unpackInto(bundle(), dir, { expectedDigest: options.expectedDigest, limits: init.limits, signal: options.signal, onProgress: options.onProgress })
        await fp.hit('launcher.install.unpacked')
        const meta: ImageMeta = { digest: result.digest, size: result.size, installedAt: new Date().toISOString() }
        if (result.manifest.launch) meta.launch = result.manifest.launch
        await mkdir(metaDir, { recursive: true })
        await writeFileAtomically(join(metaDir, `${digestHex(result.digest)}.json`), async (s) => void s.end(JSON.stringify(meta, null, 2)))
        await fp.hit('launcher.install.recorded')
        if (await snapshotter.image(digestHex(result.digest))) {
          await snapshotter.remove(activeKey)
        } else {
          await snapshotter.commit(digestHex(result.digest), activeKey)
        }
        await fp.hit('launcher.install.committed')
        return meta
      } catch (err) {
        await snapshotter.remove(activeKey).catch(() => {})
        throw err
      }
    },

    async activate({ release, version, digest }) {
      checkName('release', release)
      checkName('version', version)
      const meta = await readMeta(digest)
      if (!meta || !(await snapshotter.image(digestHex(digest)))) {
        throw new ReleaseNotActiveError(`Cannot activate ${release}@${version}: image ${digest} is not installed`, { details: { digest } })
      }
      const id = `${release}-${digestHex(digest).slice(0, 12)}-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`
      const rootfs = await snapshotter.checkout(id, digestHex(digest))
      await fp.hit('launcher.activate.checked-out')
      const activation: Activation = { id, release, version, digest, rootfs, checkoutKey: id, snapshotter: snapshotterName, activatedAt: new Date().toISOString() }
      if (meta.launch) activation.launch = meta.launch
      const dir = join(releasesDir, release)
      await mkdir(join(dir, 'activations'), { recursive: true })
      await writeFileAtomically(join(dir, 'activations', `${id}.json`), async (s) => void s.end(JSON.stringify(activation, null, 2)))
      await fp.hit('launcher.activate.recorded')
      const old = await readlink(join(dir, 'current')).catch(() => undefined)
      // `previous` is what a rollback returns to: the last *other* activation, so activating the
      // current version again (a relaunch, a retry after a crash) leaves it where it is.
      const was = old ? await pointer(release, 'current').catch(() => undefined) : undefined
      if (old && !(was?.digest === digest && was.version === version)) await swap(release, 'previous', old)
      await fp.hit('launcher.activate.previous-moved')
      await swap(release, 'current', `activations/${id}.json`)
      await fp.hit('launcher.activate.current-moved')
      return activation
    },

    current: (release) => pointer(release, 'current'),
    previous: (release) => pointer(release, 'previous'),

    async rollback(release) {
      checkName('release', release)
      const dir = join(releasesDir, release)
      const cur = await readlink(join(dir, 'current')).catch(() => undefined)
      const prev = await readlink(join(dir, 'previous')).catch(() => undefined)
      if (!prev || !cur) throw new ReleaseNotActiveError(`Cannot roll back ${release}: it has no previous activation`, { details: { release } })
      await swap(release, 'current', prev)
      await swap(release, 'previous', cur)
      return (await pointer(release, 'current'))!
    },

    async gc(options = {}) {
      const keepImages = new Set<string>((options.keepDigests ?? []).map((d) => digestHex(d)))
      const keepCheckouts = new Set<string>()
      const removed: string[] = []
      const failed: { what: string; code: string; message: string }[] = []
      // One entry that cannot go (a path too long, a busy mount) must not stop the rest: it is
      // reported and the sweep goes on, so gc can never be wedged by one leftover.
      const attempt = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
        try {
          await fn()
          removed.push(what)
        } catch (err) {
          const e = fromSystemError(err, `remove ${what}`)
          failed.push({ what, code: e.code, message: e.message })
        }
      }
      const releases = await readdir(releasesDir).catch(() => [] as string[])
      for (const release of releases) {
        for (const which of ['current', 'previous'] as const) {
          const a = await pointer(release, which).catch(() => undefined)
          if (a) {
            keepImages.add(digestHex(a.digest))
            keepCheckouts.add(a.checkoutKey)
          }
        }
        // A pointer a crash left under its temporary name (see swap) is never read: remove it.
        for (const f of await readdir(join(releasesDir, release)).catch(() => [] as string[])) {
          if (/^\.(current|previous)\.[0-9a-f]+$/.test(f)) await attempt(`pointer left by a crash ${release}/${f}`, () => rm(join(releasesDir, release, f), { force: true }))
        }
        // Activation records nothing points at can go too.
        const dir = join(releasesDir, release, 'activations')
        for (const f of await readdir(dir).catch(() => [] as string[])) {
          if (!keepCheckouts.has(f.replace(/\.json$/, ''))) await rm(join(dir, f), { force: true }).catch(() => {})
        }
      }
      const { images, checkouts, active } = await snapshotter.list()
      // Active snapshots are installs in progress; one left behind was cut off by a crash.
      for (const key of active) await attempt(`unfinished install ${key}`, () => snapshotter.remove(key))
      for (const key of checkouts) {
        if (!keepCheckouts.has(key)) await attempt(`checkout ${key}`, () => snapshotter.remove(key))
      }
      for (const name of images) {
        if (!keepImages.has(name)) {
          await attempt(`image ${name}`, async () => {
            await snapshotter.remove(name)
            await rm(join(metaDir, `${name}.json`), { force: true })
          })
        }
      }
      return { removed, failed }
    },
  }
}
