import { readFile } from 'node:fs/promises'
import { fromSystemError, isShoalError, ShoalError, UsageError } from '../core/index.js'

/** What a command may touch of the outside world; only src/cli/ reads process.env and argv. */
export interface CliIo {
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
  env: NodeJS.ProcessEnv
}

/**
 * Exit codes, stable for scripts:
 * 0 success; 1 an operational failure (I/O, network, not found); 2 a usage error;
 * 3 an integrity failure (the bundle, tree or signature is not acceptable); 4 auth refused;
 * 5 conflict with stored state.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, integrity: 3, auth: 4, conflict: 5 } as const

/** Ends a command with this exit code after it has said everything itself (e.g. `shoal doctor` with a failed check). */
export class QuietExit extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`)
  }
}

export function exitCodeFor(err: unknown): number {
  if (!isShoalError(err)) return EXIT.failure
  switch (err.kind) {
    case 'invalid':
      return EXIT.usage
    case 'integrity':
      return EXIT.integrity
    case 'auth':
      return EXIT.auth
    case 'conflict':
      return EXIT.conflict
    default:
      return EXIT.failure
  }
}

/** Prints an error the way every command does: `shoal: CODE: message`, or JSON with --json. */
export function reportError(io: CliIo, err: unknown, json: boolean): number {
  const shoalErr: ShoalError = isShoalError(err)
    ? err
    : new ShoalError('INTERNAL', 'io', 500, (err as Error)?.stack ?? String(err))
  if (json) {
    io.stdout.write(JSON.stringify({ ok: false, error: shoalErr.toJSON() }) + '\n')
  } else {
    io.stderr.write(`shoal: ${shoalErr.code}: ${shoalErr.message}\n`)
  }
  return exitCodeFor(shoalErr)
}

export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

export function usage(message: string): ShoalError {
  return new UsageError(message)
}

/** A text file named on the command line; a missing or unreadable one is FILE_NOT_FOUND/IO_FAILED naming `what`. */
export async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw fromSystemError(err, `read ${what}`, path)
  }
}

/** Resolves on the first SIGTERM or SIGINT (daemons stop cleanly on either). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolveSignal) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGTERM', on)
      process.off('SIGINT', on)
      resolveSignal(sig)
    }
    process.once('SIGTERM', on)
    process.once('SIGINT', on)
  })
}
