import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers/run-cli.js'

describe('shoal demo', () => {
  it('starts tracker, seeder and 6 hosts in 3 racks, rolls hello@1.0.0 out in waves, halts and rolls back a 2.0.0 that fails its health check, and exits 0 (stdin not a terminal)', async () => {
    const r = await runCli(['demo', '--timeout', '90'], { timeoutMs: 150_000 })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('100% running (running 6)')
    expect(r.stderr).toMatch(/every host runs hello@1\.0\.0, healthy; [0-9]+% of bytes came from peers/)
    expect(r.stderr).toMatch(/halted: 1 of 1 hosts in wave 1 failed \(halt after 1\): host-\d \(UNHEALTHY\); activated hosts rolled back/)
    expect(r.stderr).toContain('never stopped serving 1.0.0')
    expect(r.stderr).toContain('everything behaved as planned')
    for (const k of [0, 1, 2, 3, 4, 5]) expect(r.stdout).toMatch(new RegExp(`\\[host-${k}\\] hello from shoal \\(hello@1\\.0\\.0, sha256:[0-9a-f]{64}\\)`))
  }, 180_000)
})
