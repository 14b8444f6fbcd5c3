#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
//
// Commands that stream bundles (pack, verify, launch, ...) run under V8 flags that keep memory
// flat: they allocate a short-lived buffer per chunk and per small file, and with V8's defaults
// (semi-spaces up to 16 MiB, a heap that grows ahead of need) peak RSS grew with the tree
// (160 MB for 40,000 small files; 96 MB with these flags, at the same speed; npm run bench:pack).
// Daemons keep the defaults: the small young generation cost the tracker a quarter of its
// request rate (npm run bench:tracker). V8 reads these flags only at start-up, hence the re-exec.
import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import { fileURLToPath } from 'node:url'

const LEAN_FLAGS = ['--max-semi-space-size=2', '--optimize-for-size']
const STREAMING_COMMANDS = new Set(['pack', 'verify', 'inspect', 'sign', 'launch'])

if (STREAMING_COMMANDS.has(process.argv[2]) && !process.execArgv.includes('--optimize-for-size')) {
  const child = spawn(process.execPath, [...LEAN_FLAGS, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  // Forward what an operator or a supervisor sends, so the child stops as the parent would.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => child.kill(sig))
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? 128 + (constants.signals[signal] ?? 1)
  })
} else {
  const { main } = await import('../dist/cli/main.js')
  process.exitCode = await main(process.argv)
}
