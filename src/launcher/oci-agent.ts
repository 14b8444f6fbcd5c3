import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LaunchFailedError } from '../core/index.js'
import { releaseEnv, type Agent, type LaunchContext } from './agent.js'
import { superviseChild } from './supervise-child.js'

export interface OciAgentInit {
  /** runc (default) or crun. */
  runtime?: string
  stdout?: NodeJS.WritableStream
  stderr?: NodeJS.WritableStream
}

/**
 * An OCI runtime-spec 1.0 config for the release (runtime-spec config.md): the entrypoint as
 * process.args, the launch env, a read-only root, the usual /proc, /dev, /sys mounts and fresh
 * pid, mount, ipc, uts namespaces. No network namespace: the release shares the host network,
 * as a host daemon would.
 */
export function ociConfig(ctx: LaunchContext): Record<string, unknown> {
  const launch = ctx.launch!
  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...launch.env, ...releaseEnv(ctx), SHOAL_ROOTFS: '/' }
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [...launch.entrypoint, ...(launch.args ?? [])],
      env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      cwd: launch.workingDir ?? '/',
      noNewPrivileges: true,
      capabilities: {
        bounding: ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE'],
        effective: ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE'],
        permitted: ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE'],
      },
    },
    root: { path: ctx.rootfs, readonly: true },
    hostname: ctx.release,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  }
}

/** Writes an OCI bundle (config.json pointing at the rootfs) and runs it with runc or crun. */
export function createOciAgent(init: OciAgentInit = {}): Agent {
  const runtime = init.runtime ?? 'runc'
  return {
    name: 'oci',
    async start(ctx) {
      if (!ctx.launch) throw new LaunchFailedError(`Cannot launch ${ctx.release}@${ctx.version} with the oci agent: the bundle has no shoal.json launch config`)
      const bundle = join(ctx.stateDir, 'oci', ctx.id)
      await mkdir(bundle, { recursive: true })
      await writeFile(join(bundle, 'config.json'), JSON.stringify(ociConfig(ctx), null, 2))
      const containerId = `shoal-${ctx.id}`.slice(0, 64)
      return superviseChild({
        command: runtime,
        args: ['run', '--bundle', bundle, containerId],
        options: {},
        restart: ctx.launch.restart ?? 'on-failure',
        stdout: init.stdout,
        stderr: init.stderr,
        label: `${runtime} ${containerId}`,
      })
    },
  }
}
