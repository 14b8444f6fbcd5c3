import { createBtrfsSnapshotter } from './btrfs-snapshotter.js'
import { createDirSnapshotter } from './dir-snapshotter.js'
import { createOverlaySnapshotter } from './overlay-snapshotter.js'
import { SNAPSHOTTER_NAMES, type Snapshotter, type SnapshotterName } from './snapshotter.js'

/** The snapshotter called `name`, keeping its state under `root`. */
export function createSnapshotter(name: SnapshotterName, root: string): Snapshotter {
  switch (name) {
    case 'dir':
      return createDirSnapshotter({ root })
    case 'overlay':
      return createOverlaySnapshotter({ root })
    case 'btrfs':
      return createBtrfsSnapshotter({ root })
    default:
      throw new TypeError(`Cannot create snapshotter: expected one of ${SNAPSHOTTER_NAMES.join(', ')} (current value is ${String(name)})`)
  }
}
