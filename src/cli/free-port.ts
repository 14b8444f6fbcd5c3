import { createServer } from 'node:net'

const tryListen = (port: number): Promise<number | undefined> =>
  new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(undefined))
    s.listen(port, '127.0.0.1', () => {
      const { port: got } = s.address() as { port: number }
      s.close(() => resolve(got))
    })
  })

/**
 * A loopback TCP port nothing listens on right now, for a process started next to listen on
 * (an app's APP_PORT). Taken below Linux's ephemeral range (32768+): a port the OS picked there
 * can be handed out again as the local port of any outgoing connection before the app binds it
 * (seen in CI with a test opening thousands of connections next door). Falls back to an OS pick.
 */
export async function freePort(): Promise<number> {
  for (let k = 0; k < 50; k++) {
    const port = await tryListen(20_000 + Math.floor(Math.random() * 12_000))
    if (port !== undefined) return port
  }
  const port = await tryListen(0)
  if (port === undefined) throw new Error('no free loopback port')
  return port
}
