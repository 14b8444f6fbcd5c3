/**
 * The launcher: verifies a bundle, unpacks it into a snapshot, activates it atomically and
 * hands the rootfs to a container agent; rollback and gc.
 */
export { extractBundle, unpackInto, ROOTFS_MOUNT_POINTS, type ExtractBundleOptions, type ExtractResult } from './extract-bundle.js'
export { SNAPSHOTTER_NAMES, checkSnapshotKey, type Snapshotter, type SnapshotterName } from './snapshotter.js'
export { createSnapshotter } from './create-snapshotter.js'
export { createLauncher, type Launcher, type LauncherInit, type Activation, type ImageMeta, type InstallOptions } from './create-launcher.js'
export { AGENT_NAMES, type Agent, type AgentName, type LaunchContext, type RunningRelease } from './agent.js'
export { createProcessAgent, type ProcessAgentInit } from './process-agent.js'
export { createExecAgent, type ExecAgentInit } from './exec-agent.js'
export { createOciAgent, ociConfig, type OciAgentInit } from './oci-agent.js'
export { createAgent, type AgentOptions } from './create-agent.js'
export { createHandOff, type HandOffInit } from './create-hand-off.js'
