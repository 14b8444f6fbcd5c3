import { readFileSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { packBundleToFile } from '../src/core/index.js'
import { runCli } from './helpers/run-cli.js'
import { useTempDirs } from './helpers/temp-dir.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const SRC = join(ROOT, 'src')
const tempDir = useTempDirs()
const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
const parse = (f: string) => ts.createSourceFile(f, readFileSync(join(SRC, f), 'utf8'), ts.ScriptTarget.ES2022, true)

/** Which parts a part may import (through their index.ts): core is the shared contract, the swarm is shared by seeder and fetcher, the CLI composes. */
const ALLOWED: Record<string, string[]> = {
  core: [],
  swarm: ['core'],
  tracker: ['core'],
  seeder: ['core', 'swarm'],
  fetcher: ['core', 'swarm'],
  launcher: ['core'],
  cli: ['core', 'swarm', 'tracker', 'seeder', 'fetcher', 'launcher'],
  types: [],
}

describe('the code\'s shape (issue 13)', () => {
  it('no function in src/ is longer than 150 lines', () => {
    const long: string[] = []
    for (const f of files) {
      const sf = parse(f)
      const visit = (n: ts.Node): void => {
        if (ts.isFunctionLike(n) && 'body' in n && n.body) {
          const lines = sf.getLineAndCharacterOfPosition(n.end).line - sf.getLineAndCharacterOfPosition(n.getStart()).line + 1
          if (lines > 150) long.push(`${f}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1} (${lines} lines)`)
        }
        ts.forEachChild(n, visit)
      }
      visit(sf)
    }
    expect(long).toEqual([])
  })

  it('parts import each other only through core (and the swarm, for seeder and fetcher), and only through a part\'s index.ts', () => {
    const wrong: string[] = []
    for (const f of files) {
      const part = f.split('/')[0]!
      for (const st of parse(f).statements) {
        if (!ts.isImportDeclaration(st) && !ts.isExportDeclaration(st)) continue
        const spec = st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier) ? st.moduleSpecifier.text : undefined
        if (!spec?.startsWith('.')) continue
        const target = relative(SRC, join(SRC, f, '..', spec)).split('/')
        const other = target[0]!
        if (other === part || other === '..') continue
        if (!ALLOWED[part]?.includes(other)) wrong.push(`${f} imports ${spec} (${part} may not use ${other})`)
        else if (target.length !== 2 || target[1] !== 'index.js') wrong.push(`${f} imports ${spec}: another part's private file`)
      }
    }
    expect(wrong).toEqual([])
  })

  it('shoal launch does not load the peer wire, the tracker, the seeder or fastify (its import graph, recorded by a loader hook)', async () => {
    const dir = await tempDir()
    const bundle = join(dir, 'b.tar')
    await packBundleToFile(join(ROOT, 'fixtures/hello-app'), bundle)
    const record = join(dir, 'imports.txt')
    const r = await runCli(['launch', bundle, '--root', join(dir, 'root'), '-r', 'hello', '--version', '1', '--install-only', '-q'], {
      env: { RECORD_IMPORTS_FILE: record, NODE_OPTIONS: `--import ${join(ROOT, 'test/helpers/record-imports.mjs')}` },
    })
    expect(r.code, r.stderr).toBe(0)
    const loaded = readFileSync(record, 'utf8').split('\n').filter(Boolean)
    expect(loaded.some((u) => u.includes('/src/launcher/'))).toBe(true) // the hook saw the command's own modules
    const forbidden = loaded.filter((u) => /\/src\/(swarm|tracker|seeder|fetcher)\/|\/node_modules\/(bittorrent-protocol|bencode|parse-torrent|create-torrent|fastify|webtorrent|undici)\//.test(u))
    expect(forbidden).toEqual([])
  })
})
