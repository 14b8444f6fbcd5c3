import { describe, expect, it } from 'vitest'
import { createLogLine, formatLogRecord, logStream } from '../../src/cli/log-line.js'

/** A stderr that records what is written, a terminal or not. */
const sink = (isTTY: boolean) => {
  const lines: string[] = []
  const stderr = Object.assign({ write: (s: string) => void lines.push(s) }, { isTTY }) as unknown as NodeJS.WriteStream
  return { lines, io: { stdout: process.stdout, stderr, env: {} } }
}

describe('daemon log lines (issue 16: --log-level, readable on a terminal)', () => {
  it('JSON lines in a pipe, one readable line on a terminal; lines under the level are dropped', () => {
    const pipe = sink(false)
    const log = createLogLine(pipe.io, 'seeder', 'warn')
    log('info', 'registered bundle', { digest: 'sha256:ab' })
    log('warn', 'registration failed; will retry', { retryInMs: 2000 })
    expect(pipe.lines).toHaveLength(1)
    expect(JSON.parse(pipe.lines[0]!)).toMatchObject({ level: 'warn', part: 'seeder', msg: 'registration failed; will retry', retryInMs: 2000 })

    const tty = sink(true)
    createLogLine(tty.io, 'fetcher', 'debug')('debug', 'piece verified', { index: 7 })
    expect(tty.lines[0]).toMatch(/^\d\d:\d\d:\d\d DEBUG fetcher piece verified {2}index=7\n$/)
  })

  it("fastify's pino lines go through as they are in a pipe, readable on a terminal", () => {
    const line = `${JSON.stringify({ level: 30, time: Date.UTC(2026, 10, 30, 6, 0, 0), pid: 1, hostname: 'h', reqId: 'req-1', msg: 'request completed', responseTime: 1.5 })}\n`
    const pipe = sink(false)
    logStream(pipe.io, 'tracker').write(line)
    expect(pipe.lines).toEqual([line])
    const tty = sink(true)
    logStream(tty.io, 'tracker').write(line)
    expect(tty.lines[0]).toBe('06:00:00 INFO  tracker request completed  reqId=req-1 responseTime=1.5\n')
    expect(formatLogRecord({ msg: 'x', level: 'error' }, true)).toMatch(/ERROR x\n$/)
  })
})
