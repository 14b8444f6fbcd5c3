import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

/** Starts `shoal tracker` as a real process; resolves with its base URL once it listens. */
export async function startTracker(dataDir: string, tokens: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'tracker', '--data-dir', dataDir, '--tokens', tokens, '--port', '0', '-q'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout! })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('tracker did not start within 30 s')), 30_000)
    lines.once('line', (line) => {
      clearTimeout(timer)
      resolve(JSON.parse(line).listening)
    })
    child.once('exit', (code) => reject(new Error(`tracker exited with ${code}`)))
  })
  return { url, child }
}


/** Starts `shoal seeder` as a real process registering with `trackerUrl`. */
export async function startSeeder(dataDir: string, tokens: string, trackerUrl: string, trackerToken: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'seeder', '--data-dir', dataDir, '--tokens', tokens, '--port', '0', '--tracker', trackerUrl, '--tracker-token', trackerToken, '-q'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout! })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('seeder did not start within 30 s')), 30_000)
    lines.once('line', (line) => {
      clearTimeout(timer)
      resolve(JSON.parse(line).listening)
    })
    child.once('exit', (code) => reject(new Error(`seeder exited with ${code}`)))
  })
  return { url, child }
}
