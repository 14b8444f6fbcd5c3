import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { describe, expect, it } from 'vitest'
import { renderSchemas } from '../../src/cli/config-schemas.js'

const docs = (name: string): string => readFileSync(new URL(`../../docs/schemas/${name}`, import.meta.url), 'utf8')

describe('JSON Schemas for the daemon configs and shoal.json (issue 16)', () => {
  it('docs/schemas/ holds exactly what the types and flags give (run npm run docs:schemas after changing them)', () => {
    for (const [name, text] of Object.entries(renderSchemas())) expect(docs(name), name).toBe(text)
  })

  it('every key of the example configs is in its schema with a matching kind; the schemas allow no other key', () => {
    type Prop = { type?: string; anyOf?: { type: string }[] }
    const kinds = (p: Prop): string[] => (p.anyOf ? p.anyOf.map((x) => x.type) : [p.type!])
    for (const daemon of ['tracker', 'seeder', 'fetcher']) {
      const schema = JSON.parse(docs(`${daemon}.config.schema.json`)) as { additionalProperties: boolean; properties: Record<string, Prop> }
      expect(schema.additionalProperties).toBe(false)
      expect(Object.keys(schema.properties)).toContain('data-dir')
      const example = parseYaml(readFileSync(new URL(`../../deploy/config/${daemon}.yaml`, import.meta.url), 'utf8')) as Record<string, unknown>
      for (const [key, value] of Object.entries(example)) {
        const prop = schema.properties[key]
        expect(prop, `${daemon}: ${key}`).toBeDefined()
        const kind = Array.isArray(value) ? 'array' : typeof value
        expect(kinds(prop!), `${daemon}: ${key}`).toContain(kind)
      }
    }
    const launch = JSON.parse(docs('shoal.json.schema.json')) as { properties: Record<string, unknown> }
    expect(Object.keys(launch.properties)).toContain('entrypoint')
  })
})
