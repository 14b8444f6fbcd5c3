/**
 * How every part of Shoal logs: one line per event, a level, a message in plain words and the
 * facts as fields. Parts receive a Log (a collaborator, never a module-level logger); the CLI
 * writes lines as JSON on stderr (the shape fastify's pino lines have), tests collect them.
 */
export type LogLevel = 'info' | 'warn'
export type Log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void

/** A Log that drops everything (the default of every part). */
export const NO_LOG: Log = () => {}
