import { isAbsolute, join, resolve, sep } from 'node:path'
import { LaunchFailedError } from '../core/index.js'
import { releaseEnv, type Agent, type LaunchContext } from './agent.js'
import { superviseChild, type SuperviseInit } from './supervise-child.js'
import { execFile } from 'node:child_process'

export interface ProcessAgentInit {
  stdout?: NodeJS.WritableStream
  stderr?: NodeJS.WritableStream
  /** Environment the host passes down (PATH etc.); the launch config's env is added on top. */
  env?: NodeJS.ProcessEnv
  maxRestarts?: number
  backoffMs?: number
}

/**
 * A path from the launch config on the host, inside the rootfs (LAUNCH_FAILED if it would climb
 * out of it; the manifest's launch config is checked for that too, this holds whatever reads it).
 */
export function inRootfs(rootfs: string, path: string): string {
  const full = resolve(rootfs, `.${isAbsolute(path) ? '' : '/'}${path}`)
  if (full !== resolve(rootfs) && !full.startsWith(`${resolve(rootfs)}${sep}`)) {
    throw new LaunchFailedError(`Cannot launch: ${JSON.stringify(path.slice(0, 200))} resolves outside the rootfs`, { details: { path } })
  }
  return full
}

/** The entrypoint's path on the host: absolute paths and paths with a slash are inside the rootfs; a bare name is looked up in PATH. */
export function resolveEntrypoint(rootfs: string, entry: string): string {
  return isAbsolute(entry) || entry.includes('/') ? inRootfs(rootfs, entry) : entry
}

/** The launch config's health check as a probe: a command run in the rootfs, or an HTTP GET. */
function healthCheckFor(ctx: LaunchContext, cwd: string, env: NodeJS.ProcessEnv): SuperviseInit['health'] {
  const h = ctx.launch?.healthCheck
  if (!h || (!h.command && !h.httpGet)) return undefined
  const intervalMs = (h.intervalSeconds ?? 10) * 1000
  const timeoutMs = (h.timeoutSeconds ?? 5) * 1000
  const retries = h.retries ?? 3
  const check = async (signal: AbortSignal): Promise<boolean> => {
    if (h.httpGet) {
      const port = 'port' in h.httpGet ? h.httpGet.port : Number(env[h.httpGet.portEnv])
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`the health check's port variable ${'portEnv' in h.httpGet ? h.httpGet.portEnv : ''} is not a port in the release's environment`)
      const res = await fetch(`http://127.0.0.1:${port}${h.httpGet.path}`, { signal })
      await res.body?.cancel()
      if (res.status < 200 || res.status >= 400) throw new Error(`GET ${h.httpGet.path} answered HTTP ${res.status}`)
      return true
    }
    const [cmd, ...args] = h.command!
    return new Promise<boolean>((resolve) => {
      execFile(resolveEntrypoint(ctx.rootfs, cmd!), args, { cwd, env, signal }, (err) => resolve(!err))
    })
  }
  return { check, intervalMs, timeoutMs, retries }
}

/**
 * Runs the manifest's entrypoint from the rootfs (no chroot: the host's interpreter, such as
 * node or sh, may run a script from the bundle) with the working directory inside the rootfs,
 * and supervises it per the launch config's restart policy and health check.
 */
export function createProcessAgent(init: ProcessAgentInit = {}): Agent {
  return {
    name: 'process',
    async start(ctx) {
      if (!ctx.launch) {
        throw new LaunchFailedError(`Cannot launch ${ctx.release}@${ctx.version} with the process agent: the bundle has no shoal.json launch config`)
      }
      const [first, ...rest] = ctx.launch.entrypoint
      const command = resolveEntrypoint(ctx.rootfs, first!)
      const args = [...rest, ...(ctx.launch.args ?? [])]
      const cwd = inRootfs(ctx.rootfs, ctx.launch.workingDir ?? '/')
      const env = {
        ...init.env,
        PATH: `${join(ctx.rootfs, 'bin')}:${join(ctx.rootfs, 'usr/bin')}:${init.env?.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`,
        ...ctx.launch.env,
        ...releaseEnv(ctx),
      }
      return superviseChild({
        health: healthCheckFor(ctx, cwd, env),
        command,
        args,
        options: { cwd, env },
        restart: ctx.launch.restart ?? 'on-failure',
        maxRestarts: init.maxRestarts,
        backoffMs: init.backoffMs,
        stdout: init.stdout,
        stderr: init.stderr,
        label: `${ctx.release}@${ctx.version} (${ctx.launch.entrypoint.join(' ')})`,
      })
    },
  }
}
