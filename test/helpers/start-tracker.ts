import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

/**
 * Starts a `shoal <command>` daemon as a real process; resolves with its base URL once it prints
 * its `{"listening": ...}` line (bounded at 30 s).
 */
export async function startDaemon(command: string, args: string[]): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, command, ...args, '--port', '0', '-q'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout! })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start within 30 s`)), 30_000)
    lines.once('line', (line) => {
      clearTimeout(timer)
      resolve(JSON.parse(line).listening)
    })
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}`)))
  })
  return { url, child }
}

/** `shoal tracker` as a real process. */
export const startTracker = (dataDir: string, tokens: string) => startDaemon('tracker', ['--data-dir', dataDir, '--tokens', tokens])

/** `shoal seeder` as a real process registering with `trackerUrl`. */
export const startSeeder = (dataDir: string, tokens: string, trackerUrl: string, trackerToken: string) =>
  startDaemon('seeder', ['--data-dir', dataDir, '--tokens', tokens, '--tracker', trackerUrl, '--tracker-token', trackerToken])
