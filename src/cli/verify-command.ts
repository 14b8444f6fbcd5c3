import { basename } from 'node:path'
import type { Command } from 'commander'
import {
  fromSystemError,
  parseDigest,
  parseSignature,
  parseTrustedKeys,
  SignatureMissingError,
  verifyBundleFile,
  verifyReleaseSignature,
  type Digest,
} from '../core/index.js'
import { readText, usage, writeJson, type CliIo } from './cli-context.js'
import { formatBytes } from './format.js'
import { createProgress, progressInterval } from './progress.js'
import { stat } from 'node:fs/promises'

interface VerifyOptions {
  digest?: string
  signature?: string
  trustedKeys?: string
  json?: boolean
  quiet?: boolean
}

export function registerVerify(program: Command, io: CliIo): void {
  program
    .command('verify')
    .description('Verify a bundle: manifest, every file hash, canonical encoding, digest and optionally its signature')
    .argument('<file>', 'the bundle')
    .option('--digest <sha256:hex>', 'the digest it must have (default: taken from a <hex>.tar file name)')
    .option('--signature <file>', 'a detached signature to check')
    .option('--trusted-keys <file>', 'public keys to trust, one per line')
    .option('--json', 'print the result as JSON')
    .option('-q, --quiet', 'no progress output')
    .action(async (file: string, opts: VerifyOptions) => {
      if (opts.signature && !opts.trustedKeys) throw usage('Cannot verify signature: --signature needs --trusted-keys')
      let expected: Digest | undefined
      if (opts.digest) expected = parseDigest(opts.digest)
      else {
        const m = /^([0-9a-f]{64})\.tar$/.exec(basename(file))
        if (m) expected = `sha256:${m[1]}`
      }
      const trusted = opts.trustedKeys ? parseTrustedKeys(await readText(opts.trustedKeys, 'trusted keys')) : undefined
      const signature = opts.signature ? parseSignature(await readText(opts.signature, 'signature')) : undefined
      if (trusted && !signature) {
        throw new SignatureMissingError('Cannot verify bundle: trusted keys are given but no --signature')
      }

      let total = 0
      try {
        total = (await stat(file)).size
      } catch (err) {
        throw fromSystemError(err, 'open bundle', file)
      }
      const progress = createProgress({ label: 'verify', stream: io.stderr, enabled: !opts.quiet && !opts.json, lineIntervalMs: progressInterval(io) })
      const result = await verifyBundleFile(file, {
        expectedDigest: expected,
        onProgress: (bytes) => progress.update(bytes, total),
      }).finally(() => progress.stop())

      let signedBy: string | undefined
      if (signature && trusted) {
        const key = verifyReleaseSignature(signature, { release: signature.release, version: signature.version, digest: result.digest }, trusted)
        signedBy = `${key.keyId}${key.comment ? ` (${key.comment})` : ''}`
      }
      if (opts.json) {
        writeJson(io, {
          ok: true,
          digest: result.digest,
          size: result.size,
          entries: result.manifest.entries.length,
          signature: signature ? { release: signature.release, version: signature.version, keyId: signature.keyId } : null,
        })
      } else {
        io.stdout.write(`OK ${result.digest} (${formatBytes(result.size)}, ${result.manifest.entries.length} entries)\n`)
        if (signature) io.stdout.write(`   signed ${signature.release}@${signature.version} by ${signedBy}\n`)
      }
    })
}
