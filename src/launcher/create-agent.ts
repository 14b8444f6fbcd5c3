import { createExecAgent } from './exec-agent.js'
import { AGENT_NAMES, type Agent, type AgentName } from './agent.js'
import { createOciAgent } from './oci-agent.js'
import { createProcessAgent } from './process-agent.js'

export interface AgentOptions {
  /** For `exec`: a shell command run with SHOAL_ROOTFS and the release facts in its environment. */
  exec?: string
  /** For `oci`: runc (default) or crun. */
  runtime?: string
  /** Environment passed down (PATH etc.). */
  env?: NodeJS.ProcessEnv
  stdout?: NodeJS.WritableStream
  stderr?: NodeJS.WritableStream
}

/** The agent named `name` (process, exec, oci), next to createSnapshotter; RangeError for another name or a missing --exec. */
export function createAgent(name: AgentName, options: AgentOptions = {}): Agent {
  const { env, stdout, stderr } = options
  switch (name) {
    case 'process':
      return createProcessAgent({ stdout, stderr, env })
    case 'exec':
      if (!options.exec) throw new RangeError('Cannot create the exec agent: a command (exec) is required')
      return createExecAgent({ command: ['sh', '-c', options.exec], env, stdout, stderr })
    case 'oci':
      return createOciAgent({ runtime: options.runtime, stdout, stderr })
    default:
      throw new RangeError(`Cannot create agent: the name must be one of ${AGENT_NAMES.join(', ')} (current value is ${String(name)})`)
  }
}
