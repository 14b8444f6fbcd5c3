import { mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { digestHex, syncDir, type Digest } from '../core/index.js'

/**
 * The host's bundles on disk: `cache/<hex>.tar` (complete and verified, with its `.torrent`) and
 * `partial/<hex>.tar` (downloads under way). Names come from digests only, and only from digests
 * that passed the wire contract, so nothing from the network ever becomes a path.
 */
export interface BundleCache {
  readonly cacheDir: string
  readonly partialDir: string
  start(): Promise<void>
  path(digest: Digest, ext: 'tar' | 'torrent', where?: 'cache' | 'partial'): string
  has(digest: Digest): Promise<boolean>
  /** Every complete bundle held. */
  list(): Promise<Digest[]>
  /** Keeps a downloaded torrent beside its partial file. */
  writeTorrent(digest: Digest, torrent: Uint8Array): Promise<void>
  /** Moves a verified download into the cache (an open file keeps its inode: seeding goes on). */
  promote(digest: Digest): Promise<void>
  /** Drops a partial download (a full disk, bytes that do not verify). */
  dropPartial(digest: Digest): Promise<void>
  /** Marks a bundle used now (eviction keeps the most recently used). */
  touch(digest: Digest): Promise<void>
  /** Bundles not in `needed`, beyond the `keep` most recently used: the ones to evict. */
  evictable(needed: ReadonlySet<string>, keep: number): Promise<Digest[]>
  remove(digest: Digest): Promise<void>
}

export function createBundleCache(dataDir: string): BundleCache {
  const cacheDir = join(dataDir, 'cache')
  const partialDir = join(dataDir, 'partial')
  const path = (d: Digest, ext: 'tar' | 'torrent', where: 'cache' | 'partial' = 'cache'): string => join(where === 'cache' ? cacheDir : partialDir, `${digestHex(d)}.${ext}`)
  const list = async (): Promise<Digest[]> => {
    const out: Digest[] = []
    for (const name of await readdir(cacheDir)) {
      const m = /^([0-9a-f]{64})\.tar$/.exec(name)
      if (m) out.push(`sha256:${m[1]}`)
    }
    return out
  }
  return {
    cacheDir,
    partialDir,
    async start() {
      await mkdir(cacheDir, { recursive: true })
      await mkdir(partialDir, { recursive: true })
    },
    path,
    has: (d) => stat(path(d, 'tar')).then(() => true, () => false),
    list,
    writeTorrent: (d, torrent) => writeFile(path(d, 'torrent', 'partial'), torrent),
    async promote(d) {
      await rename(path(d, 'torrent', 'partial'), path(d, 'torrent'))
      await rename(path(d, 'tar', 'partial'), path(d, 'tar'))
      await syncDir(cacheDir)
    },
    async dropPartial(d) {
      await rm(path(d, 'tar', 'partial'), { force: true })
      await rm(path(d, 'torrent', 'partial'), { force: true })
    },
    touch: (d) => utimes(path(d, 'tar'), new Date(), new Date()),
    async evictable(needed, keep) {
      const held: { d: Digest; mtime: number }[] = []
      for (const d of await list()) if (!needed.has(d)) held.push({ d, mtime: (await stat(path(d, 'tar'))).mtimeMs })
      held.sort((a, b) => b.mtime - a.mtime)
      return held.slice(keep).map((x) => x.d)
    },
    async remove(d) {
      await rm(path(d, 'tar'), { force: true })
      await rm(path(d, 'torrent'), { force: true })
    },
  }
}
