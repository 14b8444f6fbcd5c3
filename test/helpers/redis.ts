import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.js'

export interface PrivateRedis {
  readonly url: string
  /** Kills the server (SIGKILL: its memory, and every swarm in it, is gone) and starts an empty one on the same port. */
  restart(): Promise<void>
  stop(): Promise<void>
}

/** Why a private Redis cannot run here, or undefined when it can. */
export function whyNoRedis(): string | undefined {
  return spawnSync('redis-server', ['--version']).status === 0 ? undefined : 'redis-server not installed (Debian package redis-server; .ci/run installs it)'
}

/** A private redis-server for tests: its own port and directory under a temp dir, no persistence, never the system service. */
export async function startRedis(): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-redis-'))
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'notice'], { stdio: ['ignore', 'pipe', 'pipe'] })
      child = c
      let out = ''
      const t = setTimeout(() => reject(new Error(`redis-server did not start within 10 s: ${out}`)), 10_000)
      c.stdout!.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('Ready to accept connections')) {
          clearTimeout(t)
          resolve()
        }
      })
      c.once('exit', (code) => {
        clearTimeout(t)
        reject(new Error(`redis-server exited (${code}): ${out}`))
      })
    })
  const kill = async (): Promise<void> => {
    const c = child
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    const gone = new Promise((r) => c.once('exit', r))
    c.kill('SIGKILL')
    await gone
  }
  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    async restart() {
      await kill()
      await start()
    },
    async stop() {
      await kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
