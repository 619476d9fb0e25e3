import { describe, expect, it } from 'vitest'
import {
  BASE_BOOT_ARGS,
  bootArgs,
  firecrackerConfig,
  firecrackerPaths,
  firecrackerRequests,
  sanitizeFirecrackerId,
} from '../../../../src/sandbox/microvm/firecracker/index.js'
import type { VmLaunchSpec } from '../../../../src/sandbox/microvm/types.js'
import { isSafeCoderError } from '../../../../src/shared/errors.js'
import {
  definition,
  loadFirecrackerSchema,
  matchOperation,
  validate,
  validateConfigFile,
  validateRequest,
} from '../../../helpers/fake-firecracker.js'

function spec(overrides: Partial<VmLaunchSpec> = {}): VmLaunchSpec {
  return {
    id: 'sc-vm-1',
    runDir: '/run/sc/vm-1',
    image: {
      dir: '/images/g1',
      kernel: '/images/g1/vmlinux',
      initrd: '/images/g1/initrd.cpio',
      rootfs: '/images/g1/rootfs.ext4',
      kernelRelease: '6.1.0-56-amd64',
      inputs: 'abc',
    },
    workspaceDrive: '/run/sc/vm-1/workspace.ext4',
    vcpus: 2,
    memMib: 2048,
    accel: 'kvm',
    labels: { 'safe-coder.session': 's1' },
    ...overrides,
  }
}

describe('the Firecracker schema fixture and its validator', () => {
  it('loads the published schema', () => {
    const schema = loadFirecrackerSchema()
    expect(schema.info.version).toMatch(/^\d+\.\d+\.\d+/)
    expect(Object.keys(schema.paths)).toEqual(
      expect.arrayContaining(['/actions', '/boot-source', '/drives/{drive_id}', '/vsock']),
    )
    // YAML 1.2: the enum values that YAML 1.1 would turn into booleans or null stay strings.
    expect(definition('Logger').properties?.level?.enum).toContain('Off')
    expect(definition('CpuTemplate').enum).toContain('None')
  })

  it('matches templated paths and refuses unknown ones', () => {
    expect(matchOperation('PUT', '/drives/rootfs')).toMatchObject({
      template: '/drives/{drive_id}',
      params: { drive_id: 'rootfs' },
    })
    expect(matchOperation('DELETE', '/drives/rootfs')).toBeUndefined()
    expect(validateRequest('PUT', '/nope', {})).toEqual([
      'Invalid request method and/or path: PUT /nope.',
    ])
    expect(validateRequest('GET', '/', undefined)).toEqual([])
  })

  it('checks types, required fields, enums, bounds and $refs', () => {
    const drive = { $ref: '#/definitions/Drive' }
    expect(validate(drive, { drive_id: 'x', is_root_device: false })).toEqual([])
    expect(validate(drive, { drive_id: 'x' })).toEqual(['(body): missing field `is_root_device`'])
    expect(validate(drive, { drive_id: 'x', is_root_device: 'no' })).toEqual([
      'is_root_device: invalid type: string, expected a boolean',
    ])
    expect(
      validate(drive, { drive_id: 'x', is_root_device: false, cache_type: 'Fast' })[0],
    ).toMatch(/^cache_type: unknown variant `Fast`/)
    const machine = { $ref: '#/definitions/MachineConfiguration' }
    expect(validate(machine, { vcpu_count: 33, mem_size_mib: 128 })).toEqual([
      'vcpu_count: 33 is above the maximum 32',
    ])
    expect(validate(machine, { vcpu_count: 0, mem_size_mib: 128 })).toEqual([
      'vcpu_count: 0 is below the minimum 1',
    ])
    expect(validate(machine, { vcpu_count: 1.5, mem_size_mib: 128 })[0]).toMatch(
      /expected an integer/,
    )
    // A nested $ref (RateLimiter → TokenBucket) is followed.
    expect(
      validate(drive, {
        drive_id: 'x',
        is_root_device: false,
        rate_limiter: { bandwidth: { size: -1, refill_time: 100 } },
      }),
    ).toEqual(['rate_limiter.bandwidth.size: -1 is below the minimum 0'])
  })

  it('refuses unknown fields, as Firecracker (serde deny_unknown_fields) does', () => {
    expect(validateRequest('PUT', '/vsock', { guest_cid: 3, uds_path: '/v', port: 1 })[0]).toMatch(
      /^\(body\): unknown field `port`, expected one of `guest_cid`, `uds_path`, `vsock_id`$/,
    )
    // …except where the schema allows them (the MMDS store is free-form JSON).
    expect(validateRequest('PUT', '/mmds', { anything: { goes: [1] } })).toEqual([])
  })

  it('needs a body where the operation takes one', () => {
    expect(validateRequest('PUT', '/actions', undefined)).toEqual([
      'EOF while parsing a value at line 1 column 0',
    ])
    expect(validateRequest('GET', '/version', { x: 1 })).toEqual(['GET /version takes no body'])
  })
})

describe('what the driver sends', () => {
  const paths = firecrackerPaths('/run/sc/vm-1')

  it('every API request is valid against the schema, in launch order', () => {
    const requests = firecrackerRequests(spec({ kernelArgs: 'quiet' }), paths)
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'PUT /logger',
      'PUT /machine-config',
      'PUT /boot-source',
      'PUT /drives/rootfs',
      'PUT /drives/workspace',
      'PUT /vsock',
      'PUT /actions',
    ])
    for (const request of requests) {
      expect(validateRequest(request.method, request.path, request.body), request.path).toEqual([])
    }
    expect(requests.at(-1)?.body).toEqual({ action_type: 'InstanceStart' })
  })

  it('configures the machine, kernel, drives and vsock from the spec', () => {
    const requests = Object.fromEntries(
      firecrackerRequests(spec({ kernelArgs: 'quiet' }), paths).map((r) => [r.path, r.body]),
    )
    expect(requests['/machine-config']).toEqual({ vcpu_count: 2, mem_size_mib: 2048, smt: false })
    expect(requests['/boot-source']).toEqual({
      kernel_image_path: '/images/g1/vmlinux',
      initrd_path: '/images/g1/initrd.cpio',
      boot_args: `${BASE_BOOT_ARGS} quiet`,
    })
    // Booting through the initramfs: neither drive is Firecracker's root device.
    expect(requests['/drives/rootfs']).toEqual({
      drive_id: 'rootfs',
      path_on_host: '/images/g1/rootfs.ext4',
      is_root_device: false,
      is_read_only: true,
    })
    expect(requests['/drives/workspace']).toEqual({
      drive_id: 'workspace',
      path_on_host: '/run/sc/vm-1/workspace.ext4',
      is_root_device: false,
      is_read_only: false,
    })
    expect(requests['/vsock']).toEqual({ guest_cid: 3, uds_path: '/run/sc/vm-1/vsock.sock' })
    expect(requests['/logger']).toMatchObject({ log_path: '/run/sc/vm-1/firecracker.log' })
  })

  it('builds the equivalent --config-file document, valid as FullVmConfiguration', () => {
    const config = firecrackerConfig(spec(), paths)
    expect(validate({ $ref: '#/definitions/FullVmConfiguration' }, config)).toEqual([])
    expect(validateConfigFile(config)).toEqual([])
    const requests = firecrackerRequests(spec(), paths)
    const body = (p: string): unknown => requests.find((r) => r.path === p)?.body
    expect(config).toEqual({
      logger: body('/logger'),
      'machine-config': body('/machine-config'),
      'boot-source': body('/boot-source'),
      drives: [body('/drives/rootfs'), body('/drives/workspace')],
      vsock: body('/vsock'),
    })
    // Firecracker's config struct wants boot-source and drives although the schema does not.
    expect(validateConfigFile({ 'machine-config': { vcpu_count: 1, mem_size_mib: 128 } })).toEqual([
      '(body): missing field `boot-source`',
      '(body): missing field `drives`',
    ])
  })

  it('refuses sizes Firecracker cannot run before starting anything', () => {
    for (const bad of [{ vcpus: 0 }, { vcpus: 33 }, { vcpus: 1.5 }, { memMib: 0 }]) {
      let caught: unknown
      try {
        firecrackerRequests(spec(bad), paths)
      } catch (error) {
        caught = error
      }
      expect(isSafeCoderError(caught, 'CONFIG_INVALID'), JSON.stringify(bad)).toBe(true)
    }
  })

  it('appends extra kernel arguments to the base command line', () => {
    expect(bootArgs({})).toBe(BASE_BOOT_ARGS)
    expect(bootArgs({ kernelArgs: '  ' })).toBe(BASE_BOOT_ARGS)
    expect(bootArgs({ kernelArgs: 'init=/init quiet' })).toBe(`${BASE_BOOT_ARGS} init=/init quiet`)
    expect(BASE_BOOT_ARGS).toMatch(/^console=ttyS0 reboot=k panic=1 pci=off/)
  })
})

describe('sanitizeFirecrackerId', () => {
  it('keeps ids Firecracker accepts', () => {
    expect(sanitizeFirecrackerId('sc-vm-1')).toBe('sc-vm-1')
    expect(sanitizeFirecrackerId('ABC123')).toBe('ABC123')
  })

  it('maps everything else into the allowed charset and length', () => {
    const ok = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/
    for (const id of [
      'safe-coder_2024.11.28:abc',
      'ünïcødé id',
      '--leading',
      '_',
      '',
      'x'.repeat(200),
    ]) {
      const clean = sanitizeFirecrackerId(id)
      expect(clean, id).toMatch(ok)
    }
    expect(sanitizeFirecrackerId('safe-coder_2024.11.28:abc')).toBe('safe-coder-2024-11-28-abc')
    expect(sanitizeFirecrackerId('--leading')).toBe('leading')
    expect(sanitizeFirecrackerId('_')).toBe('safe-coder-vm')
    expect(sanitizeFirecrackerId('x'.repeat(200))).toHaveLength(64)
  })
})
