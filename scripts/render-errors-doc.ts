// Renders docs/errors.md from the error registry: `npm run docs:errors`.
// test/core/errors.test.ts fails when the committed file and the registry disagree.
import { writeFileSync } from 'node:fs'
import { renderErrorsDoc } from '../src/core/errors-doc.js'

const out = new URL('../docs/errors.md', import.meta.url)
writeFileSync(out, renderErrorsDoc())
console.log(`wrote ${out.pathname}`)
