import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { freePort } from './free-port.js'

export interface PrivatePostgres {
  /** A new empty database on the instance; its URL. */
  createDatabase(): Promise<string>
  /** The instance's server process stops (immediate shutdown, like a crash) and starts again. */
  restart(): void
  /** Stops the server (immediate shutdown) until start(). */
  halt(): void
  start(): void
  stop(): void
}

/** Where Debian's postgresql package puts its server binaries (the newest major), if installed. */
export function postgresBin(): string | undefined {
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) return undefined
  const majors = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))
  return majors[0] ? join(base, majors[0], 'bin') : undefined
}

/** Why a private PostgreSQL cannot run here, or undefined when it can. */
export function whyNoPostgres(): string | undefined {
  if (!postgresBin()) return 'PostgreSQL server binaries not installed (Debian package postgresql; .ci/run installs it)'
  if (process.getuid?.() === 0 && spawnSync('id', ['postgres']).status !== 0) return 'running as root and there is no postgres user to run the server as'
  return undefined
}

/**
 * A private PostgreSQL instance for tests: its own data directory and port under a temp dir,
 * started with pg_ctl (never the system service), fsync on so durability tests mean something.
 * As root it runs as the `postgres` user (initdb refuses root).
 */
export async function startPostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin()!
  const root = process.getuid?.() === 0
  const dir = mkdtempSync(join(tmpdir(), 'shoal-pg-'))
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }))
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }))
    chownSync(dir, uid, gid)
  }
  const as = (cmd: string, args: string[]): void => {
    const [file, argv] = root ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args]
    const r = spawnSync(file, argv, { encoding: 'utf8', cwd: dir })
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`)
  }
  const data = join(dir, 'data')
  as('initdb', ['-D', data, '-U', 'shoal', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'])
  const port = await freePort()
  const start = (): void => as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '30', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`, 'start'])
  start()
  const admin = `postgres://shoal@127.0.0.1:${port}/postgres`
  return {
    async createDatabase() {
      const name = `t_${randomBytes(6).toString('hex')}`
      const c = new pg.Client({ connectionString: admin })
      await c.connect()
      try {
        await c.query(`CREATE DATABASE ${name}`)
      } finally {
        await c.end()
      }
      return `postgres://shoal@127.0.0.1:${port}/${name}`
    },
    restart() {
      as('pg_ctl', ['-D', data, '-m', 'immediate', 'stop'])
      start()
    },
    halt() {
      as('pg_ctl', ['-D', data, '-m', 'immediate', 'stop'])
    },
    start,
    stop() {
      try {
        as('pg_ctl', ['-D', data, '-m', 'immediate', 'stop'])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}
