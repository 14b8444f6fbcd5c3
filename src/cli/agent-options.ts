import { AGENT_NAMES, type Agent, type AgentName, type createAgent } from '../launcher/index.js'
import { usage, type CliIo } from './cli-context.js'

/** The agent --agent names, with --exec/--runtime and this process's output and environment; USAGE for a wrong name or a missing --exec. */
export function agentFor(create: typeof createAgent, opts: { agent: string; exec?: string; runtime?: string }, io: CliIo): Agent {
  if (!AGENT_NAMES.includes(opts.agent as AgentName)) throw usage(`Cannot launch: --agent must be one of ${AGENT_NAMES.join(', ')} (current value is ${opts.agent})`)
  if (opts.agent === 'exec' && !opts.exec) throw usage('Cannot launch with the exec agent: --exec "COMMAND ARGS" is required')
  return create(opts.agent as AgentName, { exec: opts.exec, runtime: opts.runtime, env: io.env, stdout: io.stdout, stderr: io.stderr })
}
