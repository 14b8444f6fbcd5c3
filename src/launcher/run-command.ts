import { execFile } from 'node:child_process'
import { CommandFailedError } from '../core/index.js'

/** Runs an external tool (mount, btrfs, cp, runc) and returns stdout; failures carry stderr. */
export function runCommand(cmd: string, args: string[], options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { signal: options.signal, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(
          new CommandFailedError(`Cannot run ${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`, {
            cause: err,
            details: { command: [cmd, ...args], stderr: String(stderr).slice(0, 4000) },
          }),
        )
      } else resolve(String(stdout))
    })
  })
}
