import { Type, type TSchema } from '@sinclair/typebox'
import type { Command, Option } from 'commander'
import { LaunchConfigSchema } from '../core/index.js'
import type { CliIo } from './cli-context.js'
import { buildProgram } from './main.js'

/** The config-file schema of one daemon, built with TypeBox from its flags: every flag a key. */
function daemonSchema(cmd: Command): TSchema {
  const props: Record<string, TSchema> = {}
  for (const o of cmd.options as Option[]) {
    const key = o.long?.replace(/^--/, '')
    if (!key || key === 'config' || key === 'help') continue
    const description = o.description + (o.envVar ? ` (also $${o.envVar})` : '')
    if (o.required || o.optional) {
      // Defaults are left out: some depend on the machine (the hostname); --help shows them.
      props[key] = Type.Optional(Array.isArray(o.defaultValue) ? Type.Union([Type.Array(Type.String()), Type.String()], { description }) : Type.Union([Type.String(), Type.Number()], { description }))
    } else props[key] = Type.Optional(Type.Boolean({ description }))
  }
  return Type.Object(props, { additionalProperties: false, title: `shoal ${cmd.name()} --config`, description: `Settings of shoal ${cmd.name()}: every flag a key. Flags and SHOAL_* variables win over the file.` })
}

/** Every JSON Schema checked in under docs/schemas/, by file name. */
export function renderSchemas(): Record<string, string> {
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: {} }
  const program = buildProgram(io)
  const out: Record<string, string> = {
    'shoal.json.schema.json': JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', title: 'shoal.json (launch config, the first entry of a bundle)', ...LaunchConfigSchema }, null, 2) + '\n',
  }
  for (const name of ['tracker', 'seeder', 'fetcher']) {
    const cmd = program.commands.find((c) => c.name() === name)!
    out[`${name}.config.schema.json`] = JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...daemonSchema(cmd) }, null, 2) + '\n'
  }
  return out
}
