/**
 * The launcher: turns a verified bundle into a root filesystem and hands it on.
 */
export { extractBundle, unpackInto, ROOTFS_MOUNT_POINTS, type ExtractBundleOptions, type ExtractResult } from './extract-bundle.js'
export { SNAPSHOTTER_NAMES, checkSnapshotKey, type Snapshotter, type SnapshotterName } from './snapshotter.js'
export { createSnapshotter } from './create-snapshotter.js'
