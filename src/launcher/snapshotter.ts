/**
 * Snapshotters after containerd's: an image is unpacked into an *active* snapshot
 * (`prepare`), sealed read-only under a name (`commit`), and each container gets a writable
 * view of it (`checkout`). `remove` deletes either kind. Keys are file-name safe strings.
 */
export interface Snapshotter {
  readonly name: SnapshotterName
  /** Creates an empty, writable active snapshot; resolves to the directory to unpack into. */
  prepare(key: string): Promise<string>
  /**
   * Seals active snapshot `key` as read-only image `name`, atomically: the image is absent or
   * complete. The active snapshot is gone afterwards.
   */
  commit(name: string, key: string): Promise<string>
  /** A writable view of image `name` for one container; resolves to its rootfs path. */
  checkout(key: string, name: string): Promise<string>
  /** Removes an active snapshot, an image or a checkout. Removing what is absent is not an error. */
  remove(key: string): Promise<void>
  /** Path of a committed image, or undefined. */
  image(name: string): Promise<string | undefined>
  /** Names of committed images, keys of checkouts, and keys of active (uncommitted) snapshots. */
  list(): Promise<{ images: string[]; checkouts: string[]; active: string[] }>
}

export type SnapshotterName = 'dir' | 'overlay' | 'btrfs'

export const SNAPSHOTTER_NAMES: readonly SnapshotterName[] = ['dir', 'overlay', 'btrfs']

const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/

/** Keys become directory names; refuse anything that could walk out of the store. */
export function checkSnapshotKey(key: string): string {
  if (!KEY_RE.test(key) || key.includes('..')) throw new TypeError(`Cannot use snapshot key: it must match ${KEY_RE.source} (current value is ${JSON.stringify(key)})`)
  return key
}
