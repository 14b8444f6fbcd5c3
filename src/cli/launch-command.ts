import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import {
  checkName,
  createApiClient,
  createSeederApi,
  createTrustPolicy,
  digestHex,
  fromSystemError,
  IoError,
  openHashedFile,
  parseFailpoints,
  parseSignature,
  parseTrustedKeys,
  SignatureMissingError,
  type Digest,
} from '../core/index.js'
import { AGENT_NAMES, createAgent, createLauncher, SNAPSHOTTER_NAMES, type InstallOptions, type SnapshotterName } from '../launcher/index.js'
import { agentFor } from './agent-options.js'
import { readText, usage, writeJson, type CliIo } from './cli-context.js'
import { resolveFetch, resolveToken, withClientOptions, type ClientOptions } from './client-options.js'
import { createProgress, progressInterval } from './progress.js'

interface LaunchOptions {
  root: string
  release: string
  version?: string
  snapshotter: string
  agent: string
  exec?: string
  runtime?: string
  signature?: string
  trustedKeys?: string
  installOnly?: boolean
  json?: boolean
  quiet?: boolean
}

export function registerLaunch(program: Command, io: CliIo): void {
  program
    .command('launch')
    .description('Verify a bundle, unpack it into a snapshot, activate it for a release and hand it to a container agent')
    .argument('<bundle>', 'the bundle file')
    .requiredOption('--root <dir>', 'launcher state directory')
    .requiredOption('-r, --release <name>', 'release name')
    .option('--version <version>', 'release version (default: the first 12 hex digits of the digest)')
    .option('--snapshotter <name>', `one of ${SNAPSHOTTER_NAMES.join(', ')}`, 'dir')
    .option('--agent <name>', `one of ${AGENT_NAMES.join(', ')}`, 'process')
    .option('--exec <command>', 'for --agent exec: shell command run with SHOAL_ROOTFS, SHOAL_DIGEST, SHOAL_RELEASE, SHOAL_VERSION set')
    .option('--runtime <path>', 'for --agent oci: runc (default) or crun')
    .option('--signature <file>', 'detached signature to require')
    .option('--trusted-keys <file>', 'refuse to activate unless signed by one of these keys')
    .option('--install-only', 'install and activate, but do not start anything')
    .option('--json', 'print the activation as JSON')
    .option('-q, --quiet', 'no progress output')
    .action(async (bundlePath: string, opts: LaunchOptions) => {
      checkName('release', opts.release)
      if (!SNAPSHOTTER_NAMES.includes(opts.snapshotter as SnapshotterName)) {
        throw usage(`Cannot launch: --snapshotter must be one of ${SNAPSHOTTER_NAMES.join(', ')} (current value is ${opts.snapshotter})`)
      }
      const agent = opts.installOnly ? undefined : agentFor(createAgent, opts, io)
      const path = resolve(bundlePath)
      let total = 0
      try {
        total = (await stat(path)).size
      } catch (err) {
        throw fromSystemError(err, 'open bundle', path)
      }
      // With trusted keys, the signature is checked before a byte is unpacked: it names the
      // digest, and the bundle must then hash to it (else BUNDLE_DIGEST_MISMATCH, nothing kept).
      let trust: InstallOptions['trust']
      let expectedDigest: Digest | undefined
      let version = opts.version
      if (opts.trustedKeys) {
        if (!opts.signature) throw new SignatureMissingError(`Cannot launch ${opts.release}: trusted keys are configured but no --signature was given`)
        const doc = parseSignature(await readText(opts.signature, 'signature'))
        version ??= doc.version
        expectedDigest = doc.digest as Digest
        trust = { policy: createTrustPolicy(parseTrustedKeys(await readText(opts.trustedKeys, 'trusted keys'))), release: opts.release, version, signature: doc }
      }
      const launcher = createLauncher({ root: resolve(opts.root), snapshotter: opts.snapshotter as SnapshotterName, failpoints: parseFailpoints(io.env.SHOAL_FAILPOINTS ?? '') })
      const progress = createProgress({ label: 'launch', stream: io.stderr, enabled: !opts.quiet && !opts.json, lineIntervalMs: progressInterval(io) })
      const meta = await launcher
        .install(() => openHashedFile(path), { expectedDigest, trust, onProgress: (b) => progress.update(b, total, 'verify+unpack') })
        .finally(() => progress.stop())
      version ??= digestHex(meta.digest).slice(0, 12)
      const activation = await launcher.activate({ release: opts.release, version, digest: meta.digest })
      if (opts.json) writeJson(io, { ok: true, activation })
      else io.stderr.write(`activated ${activation.release}@${activation.version} ${activation.digest}\n  rootfs ${activation.rootfs}\n`)
      if (!agent) return
      const running = await agent.start({
        id: activation.id,
        rootfs: activation.rootfs,
        release: activation.release,
        version: activation.version,
        digest: activation.digest,
        launch: activation.launch,
        stateDir: resolve(opts.root, 'agents'),
      })
      const stop = (): void => void running.stop()
      process.once('SIGTERM', stop)
      process.once('SIGINT', stop)
      try {
        await running.done
      } finally {
        process.off('SIGTERM', stop)
        process.off('SIGINT', stop)
      }
    })
}

export function registerRollback(program: Command, io: CliIo): void {
  program
    .command('rollback')
    .description('Make the previous activation of a release current again')
    .argument('<release>', 'release name')
    .requiredOption('--root <dir>', 'launcher state directory')
    .option('--snapshotter <name>', `one of ${SNAPSHOTTER_NAMES.join(', ')}`, 'dir')
    .option('--json', 'print the activation as JSON')
    .action(async (release: string, opts: { root: string; snapshotter: string; json?: boolean }) => {
      const launcher = createLauncher({ root: resolve(opts.root), snapshotter: opts.snapshotter as SnapshotterName })
      const a = await launcher.rollback(release)
      if (opts.json) writeJson(io, { ok: true, activation: a })
      else io.stdout.write(`rolled back ${release}: current is ${a.version} ${a.digest}\n`)
    })
}

export function registerGc(program: Command, io: CliIo): void {
  const gc = program
    .command('gc')
    .description('Remove what nothing needs: launcher images and checkouts (--root), or a seeder\'s bundles outside retention (--seeder)')
    .option('--root <dir>', 'launcher state directory: remove images and checkouts no current or previous activation needs')
    .option('--snapshotter <name>', `one of ${SNAPSHOTTER_NAMES.join(', ')}`, 'dir')
    .option('--seeder <url>', 'a running seeder: sweep bundles no channel points at beyond the last K versions of each release')
    .option('--json', 'print what was removed as JSON')
  withClientOptions(gc, 'publisher (for --seeder)')
  gc.action(async (opts: ClientOptions & { root?: string; snapshotter: string; seeder?: string; json?: boolean }) => {
      let removed: string[]
      let failed: { what: string; code: string; message: string }[] = []
      if (opts.seeder) {
        const token = await resolveToken(opts, io, 'sweep the seeder', 'a publisher')
        const seeder = createSeederApi(createApiClient({ url: opts.seeder, token, server: 'seeder', fetch: await resolveFetch(opts, io) }))
        removed = (await seeder.gc()).removed
      } else if (opts.root) {
        const launcher = createLauncher({ root: resolve(opts.root), snapshotter: opts.snapshotter as SnapshotterName })
        ;({ removed, failed } = await launcher.gc())
      } else throw usage('Cannot gc: name a launcher state directory (--root) or a seeder (--seeder URL)')
      if (failed.length) {
        // Everything else was collected; what could not be is an operational failure to look at.
        if (!opts.json) for (const r of removed) io.stdout.write(`removed ${r}\n`)
        const more = failed.length > 1 ? ` (and ${failed.length - 1} more)` : ''
        throw new IoError(`Cannot remove ${failed[0]!.what}${more}: ${failed[0]!.message}`, { details: { removed, failed } })
      }
      if (opts.json) writeJson(io, { ok: true, removed })
      else io.stdout.write(removed.length ? removed.map((r) => `removed ${r}\n`).join('') : 'nothing to remove\n')
    })
}
