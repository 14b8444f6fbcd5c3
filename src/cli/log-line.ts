import type { CliIo } from './cli-context.js'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']
const RANK: Record<string, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5 }
// pino's numeric levels, for fastify's lines
const PINO: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }

/** One log record as text: JSON for machines, or `HH:MM:SS level part message k=v` on a terminal. */
export function formatLogRecord(rec: Record<string, unknown>, pretty: boolean): string {
  if (!pretty) return `${JSON.stringify(rec)}\n`
  const { time, level, part, msg, pid: _pid, hostname: _host, ...fields } = rec
  const parsed = typeof time === 'number' ? new Date(time) : new Date(String(time))
  const t = Number.isNaN(parsed.getTime()) ? new Date() : parsed
  const lvl = typeof level === 'number' ? (PINO[level] ?? String(level)) : String(level)
  const extra = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
  return `${t.toISOString().slice(11, 19)} ${lvl.toUpperCase().padEnd(5)} ${part ? `${String(part)} ` : ''}${String(msg ?? '')}${extra ? `  ${extra}` : ''}\n`
}

/**
 * Daemon log lines for an operator: one JSON object per line on stderr (time, level, part,
 * message, fields), the shape fastify's pino lines have, so one grep or jq works for both; on a
 * terminal, one readable line each. Lines under `minLevel` are dropped.
 */
export function createLogLine(io: CliIo, part: string, minLevel: LogLevel = 'info'): (level: 'info' | 'warn' | 'debug' | 'error', message: string, fields?: Record<string, unknown>) => void {
  const pretty = (io.stderr as NodeJS.WriteStream).isTTY === true
  return (level, message, fields) => {
    if (RANK[level]! < RANK[minLevel]!) return
    io.stderr.write(formatLogRecord({ time: new Date().toISOString(), level, part, msg: message, ...fields }, pretty))
  }
}

/** A destination for fastify's (pino's) lines: as they are, or readable on a terminal. */
export function logStream(io: CliIo, part: string): { write(line: string): void } {
  const pretty = (io.stderr as NodeJS.WriteStream).isTTY === true
  return {
    write(line: string) {
      if (!pretty) return void io.stderr.write(line)
      try {
        io.stderr.write(formatLogRecord({ part, ...(JSON.parse(line) as Record<string, unknown>) }, true))
      } catch {
        io.stderr.write(line)
      }
    },
  }
}
