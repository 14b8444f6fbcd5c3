import { randomBytes } from 'node:crypto'
import type { Command } from 'commander'
import { checkName, deriveHostToken } from '../core/index.js'
import { usage, writeJson, type CliIo } from './cli-context.js'
import { readSecretFile } from './client-options.js'

/**
 * `shoal token host ID --key-file F`: the token of host ID under the fleet's host key (the
 * tracker's tokens file lists `host-key KEY`), for provisioning each machine with its own.
 * `shoal token new` prints a fresh random token or key.
 */
export function registerToken(program: Command, io: CliIo): void {
  const token = program.command('token').description('Make tokens: a random one, or a host\'s own token derived from the fleet\'s host key')
  token
    .command('new')
    .description('Print a new random token (or host key): 32 bytes, hex')
    .action(() => void io.stdout.write(`${randomBytes(32).toString('hex')}\n`))
  token
    .command('host')
    .description('Print the token of one host under the host key (the tracker and seeders accept it for that host id only)')
    .argument('<host-id>', 'the host id the fetcher registers as (--host-id)')
    .requiredOption('--key-file <file>', 'file holding the host key (the KEY of a "host-key KEY" line in the tokens file)')
    .option('--json', 'print {hostId, token}')
    .action(async (hostId: string, opts: { keyFile: string; json?: boolean }) => {
      checkName('host', hostId)
      const key = await readSecretFile(opts.keyFile, 'host key file')
      if (key.length < 32) throw usage(`Cannot derive a host token: the host key in ${opts.keyFile} must have at least 32 characters (current length is ${key.length})`)
      const t = deriveHostToken(key, hostId)
      if (opts.json) writeJson(io, { hostId, token: t })
      else io.stdout.write(`${t}\n`)
    })
}
