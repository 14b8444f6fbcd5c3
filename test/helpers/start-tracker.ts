import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
const BIN = fileURLToPath(new URL('../../bin/shoal.js', import.meta.url))

/**
 * How daemons are started: from the source through tsx (default: always the current code), or
 * as shipped (`bin/shoal.js` over dist/, which `npm ci` builds), for tests that measure a daemon's
 * memory: tsx's in-memory compiler adds ~50 MB to every process.
 */
export type DaemonBuild = 'source' | 'dist'

/**
 * Starts a `shoal <command>` daemon as a real process; resolves with its base URL once it prints
 * its `{"listening": ...}` line (bounded at 90 s: on 2 cores beside other test files' daemons a
 * tsx-compiled fetcher took over 30 s to print it once, 2026-12-01).
 */
export async function startDaemon(command: string, args: string[], build: DaemonBuild = 'source', env?: Record<string, string>): Promise<{ url: string; child: ChildProcess; info: Record<string, unknown> }> {
  // A fixed --port in args wins (a restarted daemon keeps its address); otherwise the OS picks.
  // The fetcher has no HTTP port and no -q: its log lines go to stderr (inherited).
  const port = command === 'fetcher' ? [] : [...(args.includes('--port') ? [] : ['--port', '0']), '-q']
  const child = spawn(process.execPath, [...(build === 'dist' ? [BIN] : ['--import', 'tsx', MAIN]), command, ...args, ...port], { stdio: ['ignore', 'pipe', process.env.SHOAL_TEST_LOGS ? 'inherit' : 'ignore'], ...(env ? { env: { ...process.env, ...env } } : {}) })
  const lines = createInterface({ input: child.stdout! })
  const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start within 90 s`)), 90_000)
    lines.once('line', (line) => {
      clearTimeout(timer)
      resolve(JSON.parse(line) as Record<string, unknown>)
    })
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}`)))
  })
  return { url: info.listening as string, child, info }
}

/** `shoal tracker` as a real process. */
export const startTracker = (dataDir: string, tokens: string, extra: string[] = [], build: DaemonBuild = 'source') => startDaemon('tracker', ['--data-dir', dataDir, '--tokens', tokens, ...extra], build)

/** `shoal seeder` as a real process registering with `trackerUrl`. */
export const startSeeder = (dataDir: string, tokens: string, trackerUrl: string, trackerToken: string, extra: string[] = []) =>
  startDaemon('seeder', ['--data-dir', dataDir, '--tokens', tokens, '--tracker', trackerUrl, '--tracker-token', trackerToken, ...(extra.includes('--peer-port') ? [] : ['--peer-port', '0']), ...extra])
