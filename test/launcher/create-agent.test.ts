import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { AGENT_NAMES, createAgent, type AgentName } from '../../src/launcher/index.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')))
  return { stream, text: () => text }
}

const digest = `sha256:${'ab'.repeat(32)}` as const

describe('createAgent()', () => {
  it('makes the agent each name stands for', () => {
    for (const name of AGENT_NAMES) expect(createAgent(name, { exec: 'true' }).name).toBe(name)
  })

  it('refuses an unknown name and an exec agent without a command, naming what is wrong', () => {
    expect(() => createAgent('docker' as AgentName)).toThrow(/one of process, exec, oci \(current value is docker\)/)
    expect(() => createAgent('exec')).toThrow(/a command \(exec\) is required/)
  })

  it('the exec agent runs its command with the release facts in its environment and its output where it was told', async () => {
    const out = sink()
    const rootfs = await tempDir()
    const agent = createAgent('exec', { exec: 'echo "$SHOAL_RELEASE@$SHOAL_VERSION $SHOAL_ROOTFS $SHOAL_DIGEST $EXTRA"', env: { PATH: process.env.PATH, EXTRA: 'passed-down' }, stdout: out.stream })
    const running = await agent.start({ id: 'a1', rootfs, release: 'web', version: '7', digest, stateDir: await tempDir() })
    expect(await running.done).toEqual({ exitCode: 0 })
    expect(out.text().trim()).toBe(`web@7 ${rootfs} ${digest} passed-down`)
  })

  it('the process agent starts the entrypoint from the launch config and reports its failure as an error', async () => {
    const out = sink()
    const agent = createAgent('process', { env: { PATH: process.env.PATH }, stdout: out.stream, stderr: out.stream })
    const ok = await agent.start({ id: 'a2', rootfs: await tempDir(), release: 'web', version: '1', digest, stateDir: await tempDir(), launch: { entrypoint: ['sh', '-c', 'echo started'] } })
    expect(await ok.done).toEqual({ exitCode: 0 })
    expect(out.text()).toContain('started')
    const bad = await agent.start({ id: 'a3', rootfs: await tempDir(), release: 'web', version: '1', digest, stateDir: await tempDir(), launch: { entrypoint: ['sh', '-c', 'exit 3'], restart: 'never' } })
    await expect(bad.done).rejects.toMatchObject({ code: 'LAUNCH_FAILED' })
  })
})
