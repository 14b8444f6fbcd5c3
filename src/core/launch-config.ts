import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { LaunchConfigInvalidError } from './errors.js'

/**
 * Launch configuration, read from `shoal.json` at the root of a build output and carried in
 * the manifest so that hosts know how to start the release.
 */
export const LaunchConfigSchema = Type.Object(
  {
    /** argv head, resolved inside the rootfs (`["bin/server"]`, `["/usr/bin/node", "app.js"]`). */
    entrypoint: Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { minItems: 1, maxItems: 64 }),
    /** Appended to the entrypoint. */
    args: Type.Optional(Type.Array(Type.String({ maxLength: 65536 }), { maxItems: 1024 })),
    /** Extra environment for the process. */
    env: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String({ maxLength: 65536 }), { additionalProperties: false, maxProperties: 1024 })),
    /** Working directory inside the rootfs, absolute. */
    workingDir: Type.Optional(Type.String({ pattern: '^/', maxLength: 4096 })),
    /** Restart policy for the `process` agent. */
    restart: Type.Optional(Type.Union([Type.Literal('always'), Type.Literal('on-failure'), Type.Literal('never')])),
    /** How the agent decides the release is healthy. */
    healthCheck: Type.Optional(
      Type.Object(
        {
          command: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
          /**
           * GET http://127.0.0.1:PORT/PATH, healthy on 2xx/3xx. The port is fixed (`port`) or read
           * from an environment variable the host gives the release (`portEnv`, e.g. APP_PORT),
           * for hosts that run several copies side by side. Exactly one of them.
           */
          httpGet: Type.Optional(
            Type.Union([
              Type.Object({ port: Type.Integer({ minimum: 1, maximum: 65535 }), path: Type.String({ pattern: '^/' }) }, { additionalProperties: false }),
              Type.Object({ portEnv: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' }), path: Type.String({ pattern: '^/' }) }, { additionalProperties: false }),
            ]),
          ),
          intervalSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3600 })),
          timeoutSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3600 })),
          retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  // A typo such as "entryPoint" must be an error, not a silently ignored field.
  { additionalProperties: false },
)

export type LaunchConfig = Static<typeof LaunchConfigSchema>

const check = TypeCompiler.Compile(LaunchConfigSchema)

/** True when a path (absolute, or relative with a slash) has a `..` component: it could climb out of the rootfs. */
const climbs = (p: string): boolean => p.split('/').includes('..')

/** Validates a parsed shoal.json; throws LAUNCH_CONFIG_INVALID naming the first bad field. */
export function parseLaunchConfig(value: unknown, source = 'shoal.json'): LaunchConfig {
  if (!check.Check(value)) {
    const first = check.Errors(value).First()
    const where = first ? `${first.path || '/'}: ${first.message}` : 'unknown field'
    throw new LaunchConfigInvalidError(`Cannot read launch config: ${source} is invalid at ${where}`, {
      details: { source, path: first?.path },
    })
  }
  // Paths resolved inside the rootfs must stay in it (a bare command name is looked up in PATH).
  const inRootfs: Array<[string, string | undefined]> = [
    ['/entrypoint/0', value.entrypoint[0]],
    ['/workingDir', value.workingDir],
    ['/healthCheck/command/0', value.healthCheck?.command?.[0]],
  ]
  for (const [path, p] of inRootfs) {
    if (p !== undefined && climbs(p)) {
      throw new LaunchConfigInvalidError(`Cannot read launch config: ${source} is invalid at ${path}: ${JSON.stringify(p.slice(0, 200))} climbs out of the rootfs with '..'`, { details: { source, path } })
    }
  }
  return value
}

/** The launch config with keys in a fixed order, so that manifests encode deterministically. */
export function canonicalLaunchConfig(config: LaunchConfig): LaunchConfig {
  const out: LaunchConfig = { entrypoint: [...config.entrypoint] }
  if (config.args) out.args = [...config.args]
  if (config.env) {
    out.env = Object.fromEntries(Object.keys(config.env).sort().map((k) => [k, config.env![k]!]))
  }
  if (config.workingDir !== undefined) out.workingDir = config.workingDir
  if (config.restart !== undefined) out.restart = config.restart
  if (config.healthCheck) {
    const h = config.healthCheck
    const hc: NonNullable<LaunchConfig['healthCheck']> = {}
    if (h.command) hc.command = [...h.command]
    if (h.httpGet) hc.httpGet = 'port' in h.httpGet ? { port: h.httpGet.port, path: h.httpGet.path } : { portEnv: h.httpGet.portEnv, path: h.httpGet.path }
    if (h.intervalSeconds !== undefined) hc.intervalSeconds = h.intervalSeconds
    if (h.timeoutSeconds !== undefined) hc.timeoutSeconds = h.timeoutSeconds
    if (h.retries !== undefined) hc.retries = h.retries
    out.healthCheck = hc
  }
  return out
}
