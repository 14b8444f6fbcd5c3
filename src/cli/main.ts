import { Command, CommanderError } from 'commander'
import { EXIT, QuietExit, reportError, type CliIo } from './cli-context.js'
import { registerInspect } from './inspect-command.js'
import { registerKeygen } from './keygen-command.js'
import { registerGc, registerLaunch, registerRollback } from './launch-command.js'
import { registerPack } from './pack-command.js'
import { registerSign } from './sign-command.js'
import { registerTracker } from './tracker-command.js'
import { registerSeeder } from './seeder-command.js'
import { registerFetcher } from './fetcher-command.js'
import { applyConfigFile } from './config-file.js'
import { registerDemo } from './demo-command.js'
import { registerDoctor } from './doctor-command.js'
import { registerHosts, registerRollout } from './rollout-command.js'
import { registerPublish } from './publish-command.js'
import { registerToken } from './token-command.js'
import { registerVerify } from './verify-command.js'

export const VERSION = '0.1.0'

/** Builds the `shoal` command tree. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('shoal')
    .description('Peer-to-peer artifact distribution: pack, publish, swarm, verify and launch bundles')
    .version(VERSION, '--version', 'print the shoal version')
    // Root options only before the subcommand, so `shoal publish --version 1.4.2` means the
    // release version, not shoal's.
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride()
  registerPack(program, io)
  registerInspect(program, io)
  registerVerify(program, io)
  registerKeygen(program, io)
  registerSign(program, io)
  registerLaunch(program, io)
  registerRollback(program, io)
  registerGc(program, io)
  registerTracker(program, io)
  registerSeeder(program, io)
  registerFetcher(program, io)
  registerDemo(program, io)
  registerRollout(program, io)
  registerHosts(program, io)
  registerPublish(program, io)
  registerToken(program, io)
  registerDoctor(program, io)
  for (const cmd of program.commands) cmd.exitOverride()
  // Daemons read a config file (--config / $SHOAL_CONFIG) before their flags are parsed.
  program.hook('preSubcommand', (parent, sub) => applyConfigFile(sub, parent.args, io.env))
  return program
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const program = buildProgram(io)
  const json = argv.includes('--json')
  try {
    await program.parseAsync(argv)
    return EXIT.ok
  } catch (err) {
    if (err instanceof QuietExit) return err.exitCode
    if (err instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage
    }
    return reportError(io, err, json)
  }
}

/** Entry point when run directly (`node dist/cli/main.js` or `tsx src/cli/main.ts`). */
const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href
if (invokedDirectly) {
  process.exitCode = await main(process.argv)
}
