import { resolve } from 'node:path'
import type { Command } from 'commander'
import { manifestTotals, packBundle, packBundleToFile, type PackProgress } from '../core/index.js'
import { usage, writeJson, type CliIo } from './cli-context.js'
import { formatBytes } from './format.js'
import { createProgress, progressInterval } from './progress.js'

interface PackOptions {
  output: string
  json?: boolean
  quiet?: boolean
  sourceDateEpoch?: string
}

/** Reads SOURCE_DATE_EPOCH (reproducible-builds.org) or --source-date-epoch. */
function mtimeFrom(opt: string | undefined, env: NodeJS.ProcessEnv): number {
  const raw = opt ?? env.SOURCE_DATE_EPOCH
  if (raw === undefined || raw === '') return 0
  if (!/^\d+$/.test(raw)) throw usage(`Cannot pack: SOURCE_DATE_EPOCH must be whole seconds (current value is ${raw})`)
  return Number(raw)
}

export function registerPack(program: Command, io: CliIo): void {
  program
    .command('pack')
    .description('Pack a build output directory into a deterministic, content-addressed bundle')
    .argument('<dir>', 'the build output directory')
    .requiredOption('-o, --output <file>', 'where to write the bundle (- for stdout)')
    .option('--source-date-epoch <seconds>', 'mtime for every entry (default: $SOURCE_DATE_EPOCH or 0)')
    .option('--json', 'print the result as JSON')
    .option('-q, --quiet', 'no progress output')
    .action(async (dir: string, opts: PackOptions) => {
      const mtime = mtimeFrom(opts.sourceDateEpoch, io.env)
      const toStdout = opts.output === '-'
      const progress = createProgress({ label: 'pack', stream: io.stderr, enabled: !opts.quiet && !(toStdout && !io.stderr.isTTY), lineIntervalMs: progressInterval(io) })
      const onProgress = (p: PackProgress): void => progress.update(p.bytes, p.totalBytes, p.phase)
      const result = await (toStdout
        ? packBundle(resolve(dir), io.stdout, { mtime, onProgress })
        : packBundleToFile(resolve(dir), resolve(opts.output), { mtime, onProgress })
      ).finally(() => progress.stop())
      const totals = manifestTotals(result.manifest)
      if (toStdout) {
        io.stderr.write(`${result.digest}\n`)
      } else if (opts.json) {
        writeJson(io, { ok: true, digest: result.digest, size: result.size, output: resolve(opts.output), ...totals, launch: result.manifest.launch ?? null })
      } else {
        io.stdout.write(
          `${result.digest}\n` +
            `  ${opts.output}: ${formatBytes(result.size)}, ${totals.files} files (${formatBytes(totals.bytes)}), ${totals.dirs} dirs, ${totals.symlinks} symlinks\n`,
        )
      }
    })
}
