import { LaunchFailedError } from '../core/index.js'
import { releaseEnv, type Agent } from './agent.js'
import { superviseChild } from './supervise-child.js'

export interface ExecAgentInit {
  /** The host's own hand-off command, e.g. a script that registers the rootfs with systemd-nspawn. */
  command: string[]
  env?: NodeJS.ProcessEnv
  stdout?: NodeJS.WritableStream
  stderr?: NodeJS.WritableStream
}

/**
 * Hands the rootfs to a configured command: it runs once with SHOAL_ROOTFS, SHOAL_DIGEST,
 * SHOAL_RELEASE, SHOAL_VERSION (and SHOAL_ENTRYPOINT as JSON when the bundle has one) in its
 * environment; a non-zero exit is LAUNCH_FAILED.
 */
export function createExecAgent(init: ExecAgentInit): Agent {
  if (!Array.isArray(init.command) || init.command.length === 0) throw new TypeError('Cannot create exec agent: command must be a non-empty array')
  return {
    name: 'exec',
    async start(ctx) {
      const [command, ...args] = init.command
      const env: NodeJS.ProcessEnv = { ...init.env, ...releaseEnv(ctx) }
      if (ctx.launch) env.SHOAL_ENTRYPOINT = JSON.stringify([...ctx.launch.entrypoint, ...(ctx.launch.args ?? [])])
      if (!command) throw new LaunchFailedError('Cannot launch: empty exec command')
      return superviseChild({ command, args, options: { env }, restart: 'never', stdout: init.stdout, stderr: init.stderr, label: `exec agent ${init.command.join(' ')}` })
    },
  }
}
