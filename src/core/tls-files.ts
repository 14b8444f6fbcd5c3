import { readFile } from 'node:fs/promises'
import type { Server as HttpsServer } from 'node:https'
import { fromSystemError } from './errors.js'

export interface TlsFiles {
  /** PEM certificate chain. */
  certFile: string
  /** PEM private key. */
  keyFile: string
}

/** Reads a certificate and key (FILE_NOT_FOUND / IO_FAILED naming the file). */
export async function readTlsFiles(files: TlsFiles): Promise<{ cert: Buffer; key: Buffer }> {
  const read = (path: string, what: string): Promise<Buffer> =>
    readFile(path).catch((err: unknown) => {
      throw fromSystemError(err, `read the TLS ${what}`, path)
    })
  return { cert: await read(files.certFile, 'certificate'), key: await read(files.keyFile, 'key') }
}

/**
 * Loads the certificate and key again into a listening HTTPS server (on SIGHUP, after a renewal):
 * new connections get the new pair, open ones keep theirs. A pair that cannot be read or does not
 * match leaves the old one in place and rejects.
 */
export async function reloadTls(server: unknown, files: TlsFiles): Promise<void> {
  const pair = await readTlsFiles(files)
  try {
    ;(server as HttpsServer).setSecureContext(pair)
  } catch (err) {
    throw fromSystemError(err, 'load the TLS certificate and key', files.certFile)
  }
}
