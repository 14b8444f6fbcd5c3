import type { Command } from 'commander'
import { reloadTls, type TlsFiles } from '../core/index.js'
import { usage } from './cli-context.js'

/** --tls-cert and --tls-key, for a daemon's HTTP surface. */
export function withTlsOptions(cmd: Command, what: string): Command {
  return cmd
    .option('--tls-cert <file>', `serve ${what} over HTTPS with this PEM certificate chain (with --tls-key; both reloaded on SIGHUP)`)
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
}

/** The TLS files named on the command line, or undefined for plain HTTP; one without the other is USAGE. */
export function tlsFilesOf(opts: { tlsCert?: string; tlsKey?: string }): TlsFiles | undefined {
  if (!opts.tlsCert && !opts.tlsKey) return undefined
  if (!opts.tlsCert || !opts.tlsKey) throw usage('Cannot serve HTTPS: give both --tls-cert and --tls-key')
  return { certFile: opts.tlsCert, keyFile: opts.tlsKey }
}

/**
 * Reloads the certificate and key on every SIGHUP (after a renewal), logging the outcome; a pair
 * that fails to load keeps the old one serving. Returns the function that stops listening.
 */
export function reloadTlsOnHangup(server: unknown, files: TlsFiles, log: (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void): () => void {
  const onHup = (): void => {
    reloadTls(server, files).then(
      () => log('info', 'TLS certificate reloaded', { cert: files.certFile }),
      (err: unknown) => log('warn', 'TLS certificate reload failed; the old one stays', { message: (err as Error).message }),
    )
  }
  process.on('SIGHUP', onHup)
  return () => process.off('SIGHUP', onHup)
}
