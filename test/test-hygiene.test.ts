import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const TEST = fileURLToPath(new URL('./', import.meta.url))
const files = readdirSync(TEST, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.ts'))

describe('the test suite itself', () => {
  it('every conditional skip says why in the test name (README: skipped tests name their reason)', () => {
    const silent: string[] = []
    for (const f of files) {
      const text = readFileSync(join(TEST, f), 'utf8')
      for (const m of text.matchAll(/\.skipIf\(/g)) {
        // The name (the call's first argument, or a title built just before) must name the reason.
        const after = text.slice(Math.max(0, m.index! - 300), m.index! + 600)
        if (!/SKIPPED|skipped:/.test(after)) silent.push(`${f}:${text.slice(0, m.index!).split('\n').length}`)
      }
      if (/\b(it|describe|test)\.skip\(/.test(text)) silent.push(`${f}: an unconditional skip`)
    }
    expect(silent).toEqual([])
  })
})
