/**
 * What the benches that run real daemons share: reading a process's CPU and peak memory from
 * /proc, waiting for a line it prints (bounded), calling the tracker's API.
 */
import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'

/** utime + stime of a process in seconds (fields 14 and 15 of /proc/PID/stat; clock ticks at 100 Hz). */
export function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return 0
  }
}

/** Peak resident set (VmHWM) in MiB. */
export function peakRssMiB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : 0
  } catch {
    return 0
  }
}

/** The first line of the process's stdout that `match` accepts; rejects after `boundMs` or if it exits first. */
export function waitLine(c: ChildProcess, match: (l: string) => boolean, what: string, boundMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), boundMs)
    const rl = createInterface({ input: c.stdout! })
    rl.on('line', (l) => {
      if (match(l)) {
        clearTimeout(timer)
        rl.close()
        resolve(l)
      }
    })
    c.once('exit', (code) => reject(new Error(`${what}: exited with ${code}`)))
  })
}

/** One call of the tracker's (or seeder's) API; JSON answers parsed, others as bytes. */
export async function api(base: string, method: string, path: string, token: string, body?: unknown): Promise<unknown> {
  const r = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined })
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`)
  return r.headers.get('content-type')?.includes('json') ? r.json() : r.arrayBuffer()
}
