import { execFileSync, type ChildProcess } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { afterEach, describe, expect, it } from 'vitest'
import { hostToken, TOKENS, TOKENS_FILE, waitFor } from '../helpers/fleet.js'
import { runCli } from '../helpers/run-cli.js'
import { startDaemon } from '../helpers/start-tracker.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
})

/** A CA and a server certificate for 127.0.0.1 signed by it (openssl, as an operator would). */
function makePki(dir: string, serial: string): { ca: string; cert: string; key: string } {
  const ca = join(dir, 'ca.pem')
  const caKey = join(dir, 'ca.key')
  const key = join(dir, `server-${serial}.key`)
  const csr = join(dir, `server-${serial}.csr`)
  const cert = join(dir, `server-${serial}.pem`)
  const ext = join(dir, 'ext.cnf')
  const run = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' })
  try {
    execFileSync('test', ['-f', ca])
  } catch {
    run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', ca, '-days', '2', '-subj', '/CN=shoal-test-ca')
  }
  execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ${ext}`])
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1')
  run('x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-set_serial', `0x${serial}`, '-days', '2', '-out', cert, '-extfile', ext)
  return { ca, cert, key }
}

/** The serial of the certificate a TLS server presents now. */
function servedSerial(url: string, ca: Buffer): Promise<string> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const s = connect({ host: u.hostname, port: Number(u.port), ca, servername: 'localhost' }, () => {
      resolve(new X509Certificate(s.getPeerX509Certificate()!.raw).serialNumber)
      s.end()
    })
    s.on('error', reject)
  })
}

describe('TLS end to end (issue 12)', () => {
  it('a rollout over HTTPS: tracker, seeder and fetcher trust a private CA; plain clients fail; a renewed certificate is served after SIGHUP', async () => {
    const dir = await tempDir()
    const pki = makePki(dir, 'a1')
    const tokens = join(dir, 'tokens')
    await writeFile(tokens, TOKENS_FILE)
    const tls = ['--tls-cert', join(dir, 'tracker-cert.pem'), '--tls-key', join(dir, 'tracker-key.pem')]
    await writeFile(tls[1]!, await readFile(pki.cert))
    await writeFile(tls[3]!, await readFile(pki.key))
    const tracker = await startDaemon('tracker', ['--data-dir', join(dir, 'tracker'), '--tokens', tokens, ...tls])
    children.push(tracker.child)
    expect(tracker.url).toMatch(/^https:\/\//)
    const seederToken = join(dir, 'seeder-token')
    await writeFile(seederToken, `${TOKENS.seeder}\n`)
    const seeder = await startDaemon('seeder', [
      '--data-dir', join(dir, 'seeder'), '--tokens', tokens, '--tracker', tracker.url, '--tracker-token-file', seederToken, '--ca', pki.ca,
      '--peer-port', '0', '--tls-cert', pki.cert, '--tls-key', pki.key,
    ])
    children.push(seeder.child)
    expect(seeder.url).toMatch(/^https:\/\//)
    const hostTokenFile = join(dir, 'host-token')
    await writeFile(hostTokenFile, `${hostToken('tls-host')}\n`)
    await mkdir(join(dir, 'host'))
    const fetcher = await startDaemon('fetcher', [
      '--data-dir', join(dir, 'host'), '--tracker', tracker.url, '--token-file', hostTokenFile, '--ca', pki.ca, '--follow', 'app@prod', '--host-id', 'tls-host',
      '--peer-port', '0', '--listen-host', '127.0.0.1', '--agent', 'none',
    ])
    children.push(fetcher.child)

    const tree = join(dir, 'tree')
    await mkdir(tree)
    await writeFile(join(tree, 'payload.bin'), Buffer.alloc(3 << 20, 9))
    const pubToken = join(dir, 'pub-token')
    await writeFile(pubToken, `${TOKENS.publisher}\n`)
    const noCa = await runCli(['publish', tree, '-r', 'app', '--version', '1.0.0', '-c', 'prod', '--seeder', seeder.url, '--tracker', tracker.url, '--token-file', pubToken, '--json', '-q'])
    expect(noCa.code).not.toBe(0) // a client that does not trust the CA cannot talk to it
    const pub = await runCli(['publish', tree, '-r', 'app', '--version', '1.0.0', '-c', 'prod', '--seeder', seeder.url, '--tracker', tracker.url, '--token-file', pubToken, '--ca', pki.ca, '--json', '-q'])
    expect(pub.code, pub.stderr + pub.stdout).toBe(0)
    const { digest } = JSON.parse(pub.stdout) as { digest: string }
    const status = async () => {
      const r = await runCli(['rollout', 'status', 'app@prod', '--tracker', tracker.url, '--token', TOKENS.viewer, '--ca', pki.ca, '--json'])
      return JSON.parse(r.stdout) as { byState: Record<string, number>; digest: string }
    }
    const s = await waitFor('the host running over HTTPS', async () => {
      const st = await status()
      return st.byState.running === 1 && st
    }, 60_000)
    expect(s.digest).toBe(digest)

    // Renewal: new files in place, SIGHUP, new connections get the new certificate.
    const ca = await readFile(pki.ca)
    expect(await servedSerial(tracker.url, ca)).toBe('A1')
    const renewed = makePki(dir, 'b2')
    await writeFile(`${tls[1]}.new`, await readFile(renewed.cert))
    await writeFile(`${tls[3]}.new`, await readFile(renewed.key))
    await rename(`${tls[1]}.new`, tls[1]!)
    await rename(`${tls[3]}.new`, tls[3]!)
    tracker.child.kill('SIGHUP')
    await waitFor('the renewed certificate served', async () => (await servedSerial(tracker.url, ca)) === 'B2', 10_000)
    expect((await status()).byState.running).toBe(1)
  }, 120_000)
})
