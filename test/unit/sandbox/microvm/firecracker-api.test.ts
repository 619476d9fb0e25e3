import { writeFile } from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import {
  FirecrackerApi,
  faultMessage,
  waitForApi,
} from '../../../../src/sandbox/microvm/firecracker/index.js'
import { SafeCoderError, isSafeCoderError } from '../../../../src/shared/errors.js'
import { FakeFirecracker } from '../../../helpers/fake-firecracker.js'
import { tempDir } from '../../../helpers/sandbox.js'

async function fake(env: NodeJS.ProcessEnv = {}): Promise<{
  vmm: FakeFirecracker
  api: FirecrackerApi
  dir: string
  console: string[]
}> {
  const dir = await tempDir('sc-fc-api-')
  const console: string[] = []
  const vmm = new FakeFirecracker({ id: 'test-vm', env, console: (t) => console.push(t) })
  const socket = path.join(dir, 'api.sock')
  await vmm.listen(socket)
  onTestFinished(() => vmm.close())
  return { vmm, api: new FirecrackerApi(socket), dir, console }
}

async function rejection(promise: Promise<unknown>): Promise<SafeCoderError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof SafeCoderError) return error
    throw error
  }
  throw new Error('expected a rejection')
}

describe('FirecrackerApi', () => {
  it('sends JSON with a Content-Length and resolves on 204', async () => {
    const { vmm, api, dir } = await fake()
    const kernel = path.join(dir, 'vmlinux')
    await writeFile(kernel, 'k')
    await api.put('/boot-source', { kernel_image_path: kernel, boot_args: 'console=ttyS0' })
    expect(vmm.calls).toEqual([
      expect.objectContaining({
        method: 'PUT',
        path: '/boot-source',
        status: 204,
        body: { kernel_image_path: kernel, boot_args: 'console=ttyS0' },
      }),
    ])
    expect(vmm.bootSource).toEqual({ kernel_image_path: kernel, boot_args: 'console=ttyS0' })
  })

  it('returns parsed JSON bodies of GET requests', async () => {
    const { api } = await fake()
    expect(await api.get('/')).toEqual({
      app_name: 'Firecracker',
      id: 'test-vm',
      state: 'Not started',
      vmm_version: expect.any(String) as string,
    })
  })

  it('surfaces Firecracker\'s fault_message as "Firecracker refused <method> <path>: …"', async () => {
    const { api } = await fake()
    const error = await rejection(api.put('/actions', { action_type: 'InstanceStart' }))
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toBe(
      'Firecracker refused PUT /actions: Cannot start microvm without kernel configuration.',
    )
    expect(error.hint).toBeTruthy()
    expect(error.data).toMatchObject({
      method: 'PUT',
      path: '/actions',
      status: 400,
      faultMessage: 'Cannot start microvm without kernel configuration.',
    })
  })

  it('reports schema violations the way Firecracker words them', async () => {
    const { api } = await fake()
    const error = await rejection(api.put('/vsock', { guest_cid: 3, uds_path: '/x', extra: 1 }))
    expect(error.message).toMatch(
      /^Firecracker refused PUT \/vsock: An error occurred when deserializing the json body of a request: \(body\): unknown field `extra`/,
    )
    const drive = await rejection(
      api.put('/drives/root-fs', {
        drive_id: 'root-fs',
        path_on_host: '/nope',
        is_root_device: false,
        is_read_only: true,
      }),
    )
    expect(drive.message).toBe(
      "Firecracker refused PUT /drives/root-fs: The resource ID must only contain alphanumeric characters and '_'.",
    )
  })

  it("uses the caller's hint for a refusal", async () => {
    const dir = await tempDir('sc-fc-api-')
    const vmm = new FakeFirecracker({
      env: { FAKE_FC_FAULTS: JSON.stringify({ 'PUT /logger': 'disk full' }) },
    })
    const socket = path.join(dir, 'api.sock')
    await vmm.listen(socket)
    onTestFinished(() => vmm.close())
    const api = new FirecrackerApi(socket, { hint: (m, p, f) => `hint for ${m} ${p} (${f})` })
    const error = await rejection(api.put('/logger', { level: 'Warning' }))
    expect(error.message).toBe('Firecracker refused PUT /logger: disk full')
    expect(error.hint).toBe('hint for PUT /logger (disk full)')
  })

  it('copes with error bodies that are not Firecracker JSON', async () => {
    const dir = await tempDir('sc-fc-api-')
    const socket = path.join(dir, 'odd.sock')
    const server = http.createServer((req, res) => {
      if (req.url === '/text') res.writeHead(500).end('boom')
      else res.writeHead(404).end()
    })
    await new Promise<void>((resolve) => server.listen(socket, resolve))
    onTestFinished(
      () =>
        new Promise<void>((resolve) =>
          server.close(() => {
            resolve()
          }),
        ),
    )
    const api = new FirecrackerApi(socket)
    expect((await rejection(api.get('/text'))).message).toBe('Firecracker refused GET /text: boom')
    expect((await rejection(api.get('/empty'))).message).toBe(
      'Firecracker refused GET /empty: HTTP 404',
    )
    expect(faultMessage({ fault_message: '  x ' })).toBe('x')
    expect(faultMessage({ fault_message: 3 })).toBeUndefined()
  })

  it('says when nothing answers on the socket', async () => {
    const dir = await tempDir('sc-fc-api-')
    const api = new FirecrackerApi(path.join(dir, 'missing.sock'))
    const error = await rejection(api.get('/'))
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toMatch(/^Firecracker's API did not answer GET \/: .*ENOENT/)
  })

  it('times out a request that gets no answer', async () => {
    const dir = await tempDir('sc-fc-api-')
    const socket = path.join(dir, 'slow.sock')
    const server = http.createServer(() => undefined)
    await new Promise<void>((resolve) => server.listen(socket, resolve))
    onTestFinished(() => {
      server.closeAllConnections()
      return new Promise<void>((resolve) =>
        server.close(() => {
          resolve()
        }),
      )
    })
    const error = await rejection(new FirecrackerApi(socket, { timeoutMs: 100 }).get('/'))
    expect(error.message).toBe("Firecracker's API did not answer GET /: no answer within 100 ms")
  })

  it('cancels with the signal', async () => {
    const dir = await tempDir('sc-fc-api-')
    const socket = path.join(dir, 'slow.sock')
    const server = http.createServer(() => undefined)
    await new Promise<void>((resolve) => server.listen(socket, resolve))
    onTestFinished(() => {
      server.closeAllConnections()
      return new Promise<void>((resolve) =>
        server.close(() => {
          resolve()
        }),
      )
    })
    const controller = new AbortController()
    const pending = new FirecrackerApi(socket).put('/actions', {}, controller.signal)
    setTimeout(() => {
      controller.abort()
    }, 50)
    expect((await rejection(pending)).code).toBe('ABORTED')
  })
})

describe('waitForApi', () => {
  it('waits for the socket to appear and answer', async () => {
    const dir = await tempDir('sc-fc-api-')
    const socket = path.join(dir, 'late.sock')
    const vmm = new FakeFirecracker({ id: 'late' })
    onTestFinished(() => vmm.close())
    setTimeout(() => void vmm.listen(socket), 150)
    const info = await waitForApi(new FirecrackerApi(socket), {
      timeoutMs: 5000,
      gone: () => undefined,
    })
    expect(info).toMatchObject({ id: 'late', state: 'Not started' })
  })

  it('stops waiting when the process is gone, or at the deadline', async () => {
    const dir = await tempDir('sc-fc-api-')
    const api = new FirecrackerApi(path.join(dir, 'never.sock'))
    const gone = await rejection(waitForApi(api, { timeoutMs: 5000, gone: () => 'exit 1' }))
    expect(gone.message).toBe('Firecracker exited before its API came up (exit 1).')
    const slow = await rejection(waitForApi(api, { timeoutMs: 100, gone: () => undefined }))
    expect(slow.message).toMatch(/^Firecracker's API socket did not answer within 100 ms: .*ENOENT/)
    expect(isSafeCoderError(slow, 'SANDBOX_FAILED')).toBe(true)
  })
})

describe('the fake VMM (pre-boot rules Firecracker enforces)', () => {
  it('refuses pre-boot requests after InstanceStart and a second start', async () => {
    const { api, dir, console } = await fake()
    const kernel = path.join(dir, 'vmlinux')
    await writeFile(kernel, 'k')
    await api.put('/boot-source', { kernel_image_path: kernel })
    await api.put('/actions', { action_type: 'InstanceStart' })
    expect(console.join('')).toMatch(/Linux version/)
    expect(
      (await rejection(api.put('/machine-config', { vcpu_count: 1, mem_size_mib: 128 }))).message,
    ).toBe(
      'Firecracker refused PUT /machine-config: The requested operation is not supported after starting the microVM.',
    )
    expect(
      (await rejection(api.put('/actions', { action_type: 'InstanceStart' }))).message,
    ).toMatch(/not supported after starting/)
    expect(await api.get('/')).toMatchObject({ state: 'Running' })
  })

  it('refuses missing files and mismatched drive ids', async () => {
    const { api, dir } = await fake()
    expect(
      (await rejection(api.put('/boot-source', { kernel_image_path: path.join(dir, 'no') })))
        .message,
    ).toMatch(/The kernel file cannot be opened: No such file or directory/)
    expect(
      (
        await rejection(
          api.put('/drives/a', {
            drive_id: 'b',
            path_on_host: '/x',
            is_root_device: false,
            is_read_only: true,
          }),
        )
      ).message,
    ).toMatch(/The id from the path does not match the id from the body!/)
  })
})
