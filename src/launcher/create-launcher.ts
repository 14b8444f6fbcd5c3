import { randomBytes } from 'node:crypto'
import { mkdir, readFile, readlink, rename, symlink } from 'node:fs/promises'
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
  type TrustPolicy,
  type LaunchConfig,
} from '../core/index.js'
import { collectGarbage } from './collect-garbage.js'
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

export interface InstallOptions {
  expectedDigest?: Digest
  trust?: { policy: TrustPolicy; release: string; version: string; signature: unknown }
  signal?: AbortSignal
  onProgress?: (bytes: number) => void
}

export interface Launcher {
  readonly snapshotter: Snapshotter
  /** Verifies and unpacks a bundle into a committed image (a no-op when already installed). */
  /**
   * Verifies and unpacks a bundle into a committed image (a no-op when already installed;
   * `verified` says whether this call hashed the bytes). With `trust`, the signature is checked
   * against the policy before a byte is unpacked (it names the digest; `expectedDigest` must be it).
   */
  install(bundle: () => Readable, options?: InstallOptions): Promise<ImageMeta & { verified: boolean }>
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
      if (options.trust) {
        if (!options.expectedDigest) throw new TypeError('install() with a trust policy needs the expected digest (the signature binds it)')
        const { policy, release, version, signature } = options.trust
        policy.check({ release, version, digest: options.expectedDigest }, signature)
      }
      if (options.expectedDigest) {
        const existing = await snapshotter.image(digestHex(options.expectedDigest))
        const meta = await readMeta(options.expectedDigest)
        if (existing && meta) return { ...meta, verified: false }
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
        return { ...meta, verified: true }
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

    gc: (options = {}) => collectGarbage({ snapshotter, releasesDir, metaDir, pointer }, options.keepDigests ?? []),
  }
}
