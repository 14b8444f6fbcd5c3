import type { CliIo } from './cli-context.js'

/**
 * Daemon log lines for an operator: one JSON object per line on stderr (time, level, part,
 * message, fields), the shape fastify's pino lines have, so one grep or jq works for both.
 */
export function createLogLine(io: CliIo, part: string): (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void {
  return (level, message, fields) => {
    io.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, part, msg: message, ...fields })}\n`)
  }
}
