import type { Command } from 'commander'
import { createApiClient, createSeederApi, createTrackerApi, parsePrivateKey } from '../core/index.js'
import { readText, writeJson, type CliIo } from './cli-context.js'
import { resolveFetch, resolveToken, withClientOptions, type ClientOptions } from './client-options.js'
import { createProgress, progressInterval } from './progress.js'

interface PublishOptions extends ClientOptions {
  release: string
  version: string
  channel?: string
  seeder: string
  tracker: string
  sign?: string
  json?: boolean
  quiet?: boolean
}

export function registerPublish(program: Command, io: CliIo): void {
  const cmd = program
    .command('publish')
    .description('Pack (or take) a bundle, upload it to the seeder, register the version with the tracker and optionally move a channel')
    .argument('<path>', 'a build output directory, or a bundle file')
    .requiredOption('-r, --release <name>', 'release name')
    .requiredOption('--version <version>', 'release version (immutable once published)')
    .option('-c, --channel <name>', 'move release@channel to this version as a plain move: one wave, no gates (every host at once; for waves: shoal rollout start)')
    .requiredOption('--seeder <url>', 'seeder base URL')
    .requiredOption('--tracker <urls>', 'tracker base URL, or several replicas\' separated by commas (failover)')
    .option('--sign <keyfile>', 'sign (release, version, digest) with this ed25519 key')
    .option('--json', 'print the result as JSON')
    .option('-q, --quiet', 'no progress output')
  withClientOptions(cmd, 'publisher')
  cmd.action(async (path: string, opts: PublishOptions) => {
    const token = await resolveToken(opts, io, 'publish', 'a publisher')
    const fetch = await resolveFetch(opts, io)
    const { publishBundle } = await import('../seeder/index.js')
    const progress = createProgress({ label: 'upload', stream: io.stderr, enabled: !opts.quiet && !opts.json, lineIntervalMs: progressInterval(io) })
    const result = await publishBundle(
      path,
      { release: opts.release, version: opts.version, channel: opts.channel, signingKey: opts.sign ? parsePrivateKey(await readText(opts.sign, 'signing key')) : undefined, onUpload: (sent, total) => progress.update(sent, total) },
      {
        seeder: createSeederApi(createApiClient({ url: opts.seeder, token, server: 'seeder', fetch })),
        tracker: createTrackerApi(createApiClient({ url: opts.tracker, token, server: 'tracker', fetch }), token),
      },
    ).finally(() => progress.stop())
    if (opts.json) writeJson(io, result)
    else io.stdout.write(`published ${opts.release}@${opts.version} ${result.digest}${result.newVersion ? '' : ' (already published)'}${opts.channel ? `; ${opts.release}@${opts.channel} -> ${opts.version} (a plain move: one wave, no gates)` : ''}\n`)
  })
}
