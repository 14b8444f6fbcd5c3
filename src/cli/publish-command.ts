import { createReadStream } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Readable, Transform } from 'node:stream'
import type { Command } from 'commander'
import {
  checkName,
  fromSystemError,
  packBundleToFile,
  parsePrivateKey,
  signRelease,
  verifyBundleFile,
  type Digest,
} from '../core/index.js'
import { apiCall, type ApiCallInit } from './api-call.js'
import { readText, writeJson, type CliIo } from './cli-context.js'
import { resolveFetch, resolveToken, withClientOptions } from './client-options.js'
import { createProgress, progressInterval } from './progress.js'

interface PublishOptions {
  release: string
  version: string
  channel?: string
  seeder: string
  tracker: string
  token?: string
  tokenFile?: string
  ca?: string
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
    .option('-c, --channel <name>', 'move release@channel to this version')
    .requiredOption('--seeder <url>', 'seeder base URL')
    .requiredOption('--tracker <url>', 'tracker base URL')
    .option('--sign <keyfile>', 'sign (release, version, digest) with this ed25519 key')
    .option('--json', 'print the result as JSON')
    .option('-q, --quiet', 'no progress output')
  withClientOptions(cmd, 'publisher')
  cmd.action(async (path: string, opts: PublishOptions) => {
      const token = await resolveToken(opts, io, 'publish', 'a publisher')
      const result = await publish(path, { ...opts, token, fetch: await resolveFetch(opts, io) }, io)
      if (opts.json) writeJson(io, result)
      else io.stdout.write(`published ${opts.release}@${opts.version} ${result.digest}${result.newVersion ? '' : ' (already published)'}${opts.channel ? `; ${opts.release}@${opts.channel} -> ${opts.version}` : ''}\n`)
    })
}

export interface PublishResult {
  ok: true
  digest: Digest
  size: number
  release: string
  version: string
  newVersion: boolean
  uploaded: Record<string, unknown>
  rollout: unknown
}

/** Packs (or verifies) a bundle, uploads it, registers the version and optionally moves a channel. */
export async function publish(path: string, opts: PublishOptions & { token: string; fetch?: typeof fetch }, io: CliIo): Promise<PublishResult> {
  const httpFetch = opts.fetch ?? fetch
  checkName('release', opts.release)
  checkName('version', opts.version)
  if (opts.channel) checkName('channel', opts.channel)
  const token = opts.token
  const st = await stat(path).catch((err) => {
    throw fromSystemError(err, 'read build output', path)
  })
  let tmp: string | undefined
  try {
    let bundle = resolve(path)
    let digest: Digest
    let size: number
    if (st.isDirectory()) {
      tmp = await mkdtemp(join(tmpdir(), 'shoal-publish-'))
      bundle = join(tmp, 'bundle.tar')
      ;({ digest, size } = await packBundleToFile(resolve(path), bundle))
    } else {
      ;({ digest, size } = await verifyBundleFile(bundle))
    }
    const progress = createProgress({ label: 'upload', stream: io.stderr, enabled: !opts.quiet && !opts.json, lineIntervalMs: progressInterval(io) })
    let sent = 0
    const counter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        sent += chunk.length
        progress.update(sent, size)
        cb(null, chunk)
      },
    })
    const body = Readable.toWeb(createReadStream(bundle, { highWaterMark: 1 << 20 }).pipe(counter)) as ReadableStream
    const uploaded = await apiCall(`${opts.seeder.replace(/\/$/, '')}/v1/bundles/${digest}`, {
      method: 'PUT',
      token,
      server: 'seeder',
      fetch: httpFetch,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body,
      duplex: 'half',
      signal: null,
    } as ApiCallInit).finally(() => progress.stop())
    const facts = (await uploaded.json()) as Record<string, unknown>
    let signature: unknown
    if (opts.sign) {
      signature = signRelease({ release: opts.release, version: opts.version, digest }, parsePrivateKey(await readText(opts.sign, 'signing key')))
    }
    const tracker = opts.tracker.replace(/\/$/, '')
    const version = await apiCall(`${tracker}/v1/releases/${opts.release}/versions/${opts.version}`, {
      method: 'PUT',
      token,
      fetch: httpFetch,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(signature ? { digest, signature } : { digest }),
    })
    let rollout: unknown = null
    if (opts.channel) {
      const moved = await apiCall(`${tracker}/v1/channels/${opts.release}/${opts.channel}`, { method: 'PUT', token, fetch: httpFetch, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: opts.version }) })
      rollout = ((await moved.json()) as { rollout: unknown }).rollout
    }
    return { ok: true, digest, size, release: opts.release, version: opts.version, newVersion: version.status === 201, uploaded: facts, rollout }
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true })
  }

}
