import { isMainThread } from 'node:worker_threads'

/**
 * Sets the process umask for a test. Worker threads cannot (Stryker runs the mutation tests in
 * them): there the current umask stays, and the test still checks what it can.
 */
export function setUmask(mask: number): number {
  return isMainThread ? process.umask(mask) : process.umask()
}
