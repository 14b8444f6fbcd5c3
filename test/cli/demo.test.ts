import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers/run-cli.js'

describe('shoal demo', () => {
  it('starts tracker, seeder and 3 hosts, rolls fixtures/hello-app out, runs it on every host and exits 0 (stdin not a terminal)', async () => {
    const r = await runCli(['demo', '--timeout', '60'], { timeoutMs: 90_000 })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('100% running (running 3)')
    for (const k of [0, 1, 2]) expect(r.stdout).toMatch(new RegExp(`\\[host-${k}\\] hello from shoal \\(hello@1\\.0\\.0, sha256:[0-9a-f]{64}\\)`))
  }, 120_000)
})
