// One measured operation in a fresh process, so that peak RSS is this operation's alone.
// Uses the compiled dist/ (npm run build), as the shipped CLI does.
import { Writable } from 'node:stream'
import { packBundle, packBundleToFile, verifyBundleFile } from '../dist/core/index.js'

const [op, a, b] = process.argv.slice(2)
const t0 = process.hrtime.bigint()
let result
if (op === 'pack') {
  result = await packBundle(a, new Writable({ write: (_c, _e, cb) => cb() }))
} else if (op === 'pack-file') {
  result = await packBundleToFile(a, b)
} else if (op === 'verify') {
  result = await verifyBundleFile(a)
} else {
  throw new Error(`unknown op ${op}`)
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9
console.log(JSON.stringify({ digest: result.digest, size: result.size, seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 }))
