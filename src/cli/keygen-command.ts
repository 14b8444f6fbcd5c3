import { access, writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { fromSystemError, generateSigningKey } from '../core/index.js'
import { usage, writeJson, type CliIo } from './cli-context.js'

interface KeygenOptions {
  output: string
  comment?: string
  force?: boolean
  json?: boolean
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  )
}

export function registerKeygen(program: Command, io: CliIo): void {
  program
    .command('keygen')
    .description('Generate an ed25519 signing key: FILE (private, mode 0600) and FILE.pub (one trusted-keys line)')
    .requiredOption('-o, --output <file>', 'private key path; the public key goes to <file>.pub')
    .option('-c, --comment <text>', 'who owns the key, kept in the public key line')
    .option('-f, --force', 'overwrite existing files')
    .option('--json', 'print the key id and public key as JSON')
    .action(async (opts: KeygenOptions) => {
      const pubPath = `${opts.output}.pub`
      if (!opts.force && ((await exists(opts.output)) || (await exists(pubPath)))) {
        throw usage(`Cannot generate key: ${opts.output} or ${pubPath} exists (use --force to overwrite)`)
      }
      const pair = generateSigningKey(opts.comment ?? '')
      try {
        await writeFile(opts.output, pair.privateKeyPem, { mode: 0o600, flag: opts.force ? 'w' : 'wx' })
        await writeFile(pubPath, pair.publicKey.line + '\n', { mode: 0o644, flag: opts.force ? 'w' : 'wx' })
      } catch (err) {
        throw fromSystemError(err, 'write key', opts.output)
      }
      if (opts.json) writeJson(io, { ok: true, keyId: pair.publicKey.keyId, publicKey: pair.publicKey.line, privateKeyFile: opts.output, publicKeyFile: pubPath })
      else io.stdout.write(`key ${pair.publicKey.keyId}\n  private: ${opts.output}\n  public:  ${pubPath}\n  ${pair.publicKey.line}\n`)
    })
}
