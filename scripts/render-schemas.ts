// Renders docs/schemas/*.json from the TypeBox launch-config type and the daemons' flags:
// `npm run docs:schemas`. test/cli/config-schemas.test.ts fails when they are out of date.
import { mkdirSync, writeFileSync } from 'node:fs'
import { renderSchemas } from '../src/cli/config-schemas.js'

const dir = new URL('../docs/schemas/', import.meta.url)
mkdirSync(dir, { recursive: true })
for (const [name, text] of Object.entries(renderSchemas())) {
  writeFileSync(new URL(name, dir), text)
  console.log(`wrote docs/schemas/${name}`)
}
