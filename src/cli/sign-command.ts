import type { Command } from 'commander'
import { checkName, parsePrivateKey, signRelease, verifyBundleFile, writeFileAtomically } from '../core/index.js'
import { readText, writeJson, type CliIo } from './cli-context.js'

interface SignOptions {
  key: string
  release: string
  version: string
  output: string
  json?: boolean
}

export function registerSign(program: Command, io: CliIo): void {
  program
    .command('sign')
    .description('Sign (release, version, digest) of a bundle with an ed25519 key; the bundle is verified first')
    .argument('<file>', 'the bundle')
    .requiredOption('-k, --key <file>', 'private key (from shoal keygen)')
    .requiredOption('-r, --release <name>', 'release name')
    .requiredOption('--version <version>', 'release version')
    .requiredOption('-o, --output <file>', 'where to write the signature (JSON)')
    .option('--json', 'print the signature as JSON')
    .action(async (file: string, opts: SignOptions) => {
      checkName('release', opts.release)
      checkName('version', opts.version)
      const key = parsePrivateKey(await readText(opts.key, 'private key'))
      const { digest } = await verifyBundleFile(file)
      const doc = signRelease({ release: opts.release, version: opts.version, digest }, key)
      await writeFileAtomically(opts.output, async (s) => {
        s.end(JSON.stringify(doc, null, 2) + '\n')
      })
      if (opts.json) writeJson(io, { ok: true, ...doc })
      else io.stdout.write(`signed ${opts.release}@${opts.version} ${digest} with key ${doc.keyId} -> ${opts.output}\n`)
    })
}
