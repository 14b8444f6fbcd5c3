import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { digestHex, fromSystemError, type Digest } from '../core/index.js'
import type { Activation } from './create-launcher.js'
import type { Snapshotter } from './snapshotter.js'

export interface GcResult {
  removed: string[]
  failed: { what: string; code: string; message: string }[]
}

/**
 * The launcher's sweep: keeps what a `current` or `previous` pointer needs (and `keepDigests`),
 * removes other images (with their records), checkouts, activation records nothing points at,
 * installs a crash cut off and pointers a crash left under their temporary names. One entry that
 * cannot go (a path too long, a busy mount) must not stop the rest: it is reported and the sweep
 * goes on, so gc can never be wedged by one leftover. Not safe to run during an install.
 */
export async function collectGarbage(
  l: { snapshotter: Snapshotter; releasesDir: string; metaDir: string; pointer: (release: string, which: 'current' | 'previous') => Promise<Activation | undefined> },
  keepDigests: readonly Digest[],
): Promise<GcResult> {
  const { snapshotter, releasesDir, metaDir } = l
  const keepImages = new Set<string>(keepDigests.map((d) => digestHex(d)))
  const keepCheckouts = new Set<string>()
  const removed: string[] = []
  const failed: GcResult['failed'] = []
  const attempt = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn()
      removed.push(what)
    } catch (err) {
      const e = fromSystemError(err, `remove ${what}`)
      failed.push({ what, code: e.code, message: e.message })
    }
  }
  for (const release of await readdir(releasesDir).catch(() => [] as string[])) {
    for (const which of ['current', 'previous'] as const) {
      const a = await l.pointer(release, which).catch(() => undefined)
      if (a) {
        keepImages.add(digestHex(a.digest))
        keepCheckouts.add(a.checkoutKey)
      }
    }
    for (const f of await readdir(join(releasesDir, release)).catch(() => [] as string[])) {
      if (/^\.(current|previous)\.[0-9a-f]+$/.test(f)) await attempt(`pointer left by a crash ${release}/${f}`, () => rm(join(releasesDir, release, f), { force: true }))
    }
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
    if (keepImages.has(name)) continue
    await attempt(`image ${name}`, async () => {
      await snapshotter.remove(name)
      await rm(join(metaDir, `${name}.json`), { force: true })
    })
  }
  return { removed, failed }
}
