import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { applyConfigFile } from '../../src/cli/config-file.js'
import { buildProgram } from '../../src/cli/main.js'

const DEPLOY = join(import.meta.dirname, '../../deploy')
const analyze = spawnSync('systemd-analyze', ['--version']).status === 0
const SKIPPED = analyze ? undefined : 'systemd-analyze not installed (Debian package systemd)'

describe('deploy/: systemd units and example configs (issue 16)', () => {
  it.skipIf(!analyze)(`systemd-analyze verify passes on every unit, without one warning${SKIPPED ? ` (SKIPPED: ${SKIPPED})` : ''}`, () => {
    const units = readdirSync(join(DEPLOY, 'systemd')).filter((f) => f.endsWith('.service'))
    expect(units.sort()).toEqual(['shoal-fetcher.service', 'shoal-seeder.service', 'shoal-tracker.service'])
    for (const u of units) {
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(DEPLOY, 'systemd', u)], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_LEVEL: 'notice' } })
      // verify exits 0 on an unknown key too: any line it prints is a finding.
      expect([r.status, r.stderr.trim(), r.stdout.trim()], u).toEqual([0, '', ''])
    }
  })

  it('every example config is taken by its daemon (known keys, right kinds), and each unit reads its config', () => {
    const io = { stdout: process.stdout, stderr: process.stderr, env: {} }
    for (const daemon of ['tracker', 'seeder', 'fetcher']) {
      const sub = buildProgram(io).commands.find((c) => c.name() === daemon)!
      expect(() => applyConfigFile(sub, ['--config', join(DEPLOY, 'config', `${daemon}.yaml`)], {}), daemon).not.toThrow()
      expect(sub.getOptionValueSource('dataDir'), daemon).toBe('config')
    }
    const units = readdirSync(join(DEPLOY, 'systemd'))
    for (const daemon of ['tracker', 'seeder', 'fetcher']) {
      const text = readFileSync(join(DEPLOY, 'systemd', `shoal-${daemon}.service`), 'utf8')
      expect(text, daemon).toContain(`shoal ${daemon} --config /etc/shoal/${daemon}.yaml`)
      expect(units).toContain(`shoal-${daemon}.service`)
    }
  })
})
