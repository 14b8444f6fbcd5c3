/**
 * The launcher: turns a verified bundle into a root filesystem and hands it on.
 * Today: safe streaming extraction. Snapshotters, agents and activation are to come (issue 5).
 */
export { extractBundle, ROOTFS_MOUNT_POINTS, type ExtractBundleOptions, type ExtractResult } from './extract-bundle.js'
