// `node --import ./record-imports.mjs ...`: appends every module URL the process resolves to the
// file $RECORD_IMPORTS_FILE (one per line), from a module-loader hook (Node 20.6+), so a test can
// see what a command loads.
import { register } from 'node:module'

if (process.env.RECORD_IMPORTS_FILE) {
  register('./record-imports-hooks.mjs', import.meta.url, { data: { file: process.env.RECORD_IMPORTS_FILE } })
}
