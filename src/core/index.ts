/**
 * The shared contracts of Shoal: the bundle format, digests, signatures, names and the error
 * registry. Every part imports these from here and from nowhere else.
 */
export * from './errors.js'
export * from './digest.js'
export * from './names.js'
export * from './bundle-path.js'
export * from './launch-config.js'
export * from './manifest.js'
export { scanTree, type ScannedEntry, type ScanTreeOptions } from './scan-tree.js'
export { packBundle, packBundleToFile, LAUNCH_CONFIG_FILE, type PackBundleOptions, type PackProgress, type PackResult } from './pack-bundle.js'
export { verifyBundle, verifyBundleFile, DEFAULT_MAX_MANIFEST_BYTES, DEFAULT_BUNDLE_LIMITS, type BundleLimits, type VerifyBundleOptions, type VerifyResult } from './verify-bundle.js'
export { readBundleManifest, digestFile } from './read-bundle-manifest.js'
export * from './signature.js'
export { writeFileAtomically, syncDir, type AtomicFileOptions } from './atomic-file.js'
export { authorize, parseBearer, parseTokens, roleAllows, ROLES, type Role, type Principal, type TokenTable } from './tokens.js'
export * from './swarm/index.js'
export * from './rollout.js'
