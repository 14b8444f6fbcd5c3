import type { Command } from 'commander'
import { digestFile, manifestTotals, readBundleManifest } from '../core/index.js'
import { writeJson, type CliIo } from './cli-context.js'
import { formatBytes, formatMode } from './format.js'

interface InspectOptions {
  json?: boolean
  entries?: boolean
}

export function registerInspect(program: Command, io: CliIo): void {
  program
    .command('inspect')
    .description('Show a bundle\'s digest, manifest summary and launch config (does not verify content: use verify)')
    .argument('<file>', 'the bundle')
    .option('--entries', 'list every entry')
    .option('--json', 'print the manifest and digest as JSON')
    .action(async (file: string, opts: InspectOptions) => {
      const manifest = await readBundleManifest(file)
      const { digest, size } = await digestFile(file)
      const totals = manifestTotals(manifest)
      if (opts.json) {
        writeJson(io, { ok: true, digest, size, ...totals, manifest })
        return
      }
      const lines = [
        `digest:   ${digest}`,
        `size:     ${formatBytes(size)} (${size} bytes)`,
        `schema:   ${manifest.schema}, mtime ${manifest.mtime}`,
        `entries:  ${totals.files} files (${formatBytes(totals.bytes)}), ${totals.dirs} dirs, ${totals.symlinks} symlinks`,
        `launch:   ${manifest.launch ? JSON.stringify(manifest.launch) : '(none: no shoal.json)'}`,
      ]
      if (opts.entries) {
        lines.push('')
        for (const e of manifest.entries) {
          const detail = e.type === 'file' ? `${String(e.size).padStart(12)}  ${e.sha256.slice(0, 16)}` : e.type === 'symlink' ? `${''.padStart(12)}  -> ${e.target}` : ''
          lines.push(`${e.type.padEnd(7)} ${formatMode(e.mode)} ${detail.padEnd(30)} ${e.path}`)
        }
      }
      io.stdout.write(lines.join('\n') + '\n')
    })
}
