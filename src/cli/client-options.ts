import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { createHttpFetch, fromSystemError } from '../core/index.js'
import { usage, type CliIo } from './cli-context.js'

export interface ClientOptions {
  token?: string
  tokenFile?: string
  ca?: string
}

/**
 * The options every command that talks to a Shoal server takes: a token (from a file or the
 * environment, so it does not show in `ps`; `--token` works but is visible to every user of the
 * machine) and the CA to trust for HTTPS.
 */
export function withClientOptions(cmd: Command, role: string): Command {
  return cmd
    .option('--token-file <file>', `file holding the ${role} token (or $SHOAL_TOKEN_FILE)`)
    .option('--token <token>', `${role} token (or $SHOAL_TOKEN); visible in ps, prefer --token-file`)
    .option('--ca <file>', 'PEM CA certificate(s) to trust for HTTPS (or $SHOAL_CA)')
}

/** Reads a secret from a file: the first line, trimmed (FILE_NOT_FOUND / IO_FAILED naming it). */
export async function readSecretFile(path: string, what: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw fromSystemError(err, `read the ${what}`, path)
  })
  const secret = text.split('\n')[0]!.trim()
  if (!secret) throw usage(`Cannot use the ${what}: ${path} is empty`)
  return secret
}

/** The token from --token-file, --token, $SHOAL_TOKEN_FILE or $SHOAL_TOKEN (in that order), or USAGE naming `action`. */
export async function resolveToken(opts: ClientOptions, io: CliIo, action: string, role = 'a'): Promise<string> {
  if (opts.tokenFile) return readSecretFile(opts.tokenFile, 'token file')
  if (opts.token) return opts.token
  if (io.env.SHOAL_TOKEN_FILE) return readSecretFile(io.env.SHOAL_TOKEN_FILE, 'token file ($SHOAL_TOKEN_FILE)')
  if (io.env.SHOAL_TOKEN) return io.env.SHOAL_TOKEN
  throw usage(`Cannot ${action}: give ${role} token with --token-file, $SHOAL_TOKEN_FILE, --token or $SHOAL_TOKEN`)
}

/** The HTTP client for --ca (or $SHOAL_CA): trusts that CA for HTTPS, else the system's. */
export async function resolveFetch(opts: ClientOptions, io: CliIo): Promise<typeof fetch> {
  const caFile = opts.ca ?? io.env.SHOAL_CA
  if (!caFile) return fetch
  const ca = await readFile(caFile).catch((err: unknown) => {
    throw fromSystemError(err, 'read the CA certificate', caFile)
  })
  return createHttpFetch({ ca })
}
