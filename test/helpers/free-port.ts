/** The one the demo uses (a loopback port the OS picked, then closed). */
export { freePort } from '../../src/cli/free-port.js'
