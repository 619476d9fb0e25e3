/**
 * A stand-in for the `firecracker` binary, for tests on hosts where Firecracker cannot run.
 *
 * It takes the arguments the real binary takes (`--api-sock`, `--id`, `--config-file`,
 * `--no-api`, `--version`), serves the HTTP API on the unix socket, and checks every request
 * against Firecracker's published OpenAPI (Swagger 2.0) schema, stored verbatim in
 * test/fixtures/firecracker/firecracker.yaml: path and method must exist, the body must match
 * the operation's schema, and unknown fields are refused (Firecracker's request structs are
 * `#[serde(deny_unknown_fields)]`). On top of the schema it mirrors the checks of Firecracker's
 * own code that a driver can trip over: resource ids, files that must exist, sockets that must
 * not, pre-boot-only requests, `InstanceStart` without a kernel. Refusals are 400 with
 * `{"fault_message": ...}`, as Firecracker answers.
 *
 * After `InstanceStart` it prints boot lines on stdout (the serial console) and plays the
 * guest side of the vsock device: `CONNECT <port>\n` on `uds_path` is answered `OK <n>\n` and
 * the stream is bridged to a child process (`FAKE_FC_GUEST`, a shell command; an echo when
 * unset). Every API call is appended to a JSON-lines log (`FAKE_FC_LOG`) for assertions.
 *
 * Knobs (environment):
 * - FAKE_FC_LOG: file to append one JSON line per API call to.
 * - FAKE_FC_GUEST: shell command the guest's vsock port is bridged to (default: echo).
 * - FAKE_FC_GUEST_PORT: the guest port that has a listener (default 1024).
 * - FAKE_FC_GUEST_DELAY_MS: time from InstanceStart until the guest listens (default 0);
 *   until then a CONNECT is answered by closing the connection, as Firecracker does when the
 *   guest resets it.
 * - FAKE_FC_VSOCK_REPLY: answer CONNECT with this line instead of `OK <n>` (protocol errors).
 * - FAKE_FC_FAULTS: JSON object {"PUT /drives/rootfs": "message"}: refuse that request
 *   (after it validated) with that fault message.
 * - FAKE_FC_EXIT_AFTER_START_MS / FAKE_FC_EXIT_CODE: exit that long after InstanceStart.
 * - FAKE_FC_VERSION: what `--version` reports (default: the schema's info.version).
 */

import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, appendFileSync, constants, existsSync, readFileSync, statSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parse as parseYaml } from 'yaml'

export const FIXTURE = fileURLToPath(
  new URL('../fixtures/firecracker/firecracker.yaml', import.meta.url),
)
/** The executable wrapper, for `new FirecrackerHypervisor(FAKE_FIRECRACKER_BIN)`. */
export const FAKE_FIRECRACKER_BIN = fileURLToPath(new URL('./fake-firecracker', import.meta.url))

// ---------------------------------------------------------------------------------------------
// The schema and a validator for the Swagger 2.0 subset it uses
// ---------------------------------------------------------------------------------------------

export interface Schema {
  $ref?: string
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean'
  required?: string[]
  properties?: Record<string, Schema>
  additionalProperties?: boolean | Schema
  items?: Schema
  enum?: unknown[]
  minimum?: number
  maximum?: number
}

interface Parameter {
  name: string
  in: 'body' | 'path' | 'query'
  required?: boolean
  type?: string
  schema?: Schema
}

interface Operation {
  operationId: string
  parameters?: Parameter[]
  responses: Record<string, { schema?: Schema } | undefined>
}

export interface Swagger {
  info: { version: string }
  paths: Record<string, Partial<Record<'get' | 'put' | 'patch', Operation>>>
  definitions: Record<string, Schema>
}

let cached: Swagger | undefined

export function loadFirecrackerSchema(file = FIXTURE): Swagger {
  if (file === FIXTURE && cached !== undefined) return cached
  const doc = parseYaml(readFileSync(file, 'utf8')) as Swagger
  if (file === FIXTURE) cached = doc
  return doc
}

/** A definition by name ("FullVmConfiguration"). */
export function definition(name: string, root = loadFirecrackerSchema()): Schema {
  const found = root.definitions[name]
  if (found === undefined) throw new Error(`no definition ${name} in the Firecracker schema`)
  return found
}

/**
 * Every way `value` breaks `schema`, as "where: what" strings (empty when it is valid).
 * Objects refuse properties the schema does not name unless it says `additionalProperties`.
 */
export function validate(
  schema: Schema,
  value: unknown,
  root: Swagger = loadFirecrackerSchema(),
  at = '',
): string[] {
  const where = at === '' ? '(body)' : at
  if (schema.$ref !== undefined) {
    const name = schema.$ref.replace(/^#\/definitions\//, '')
    return validate(definition(name, root), value, root, at)
  }
  const errors: string[] = []
  switch (schema.type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return [`${where}: invalid type: ${typeName(value)}, expected an object`]
      }
      const record = value as Record<string, unknown>
      for (const key of schema.required ?? []) {
        if (!(key in record)) errors.push(`${where}: missing field \`${key}\``)
      }
      const properties = schema.properties ?? {}
      for (const [key, child] of Object.entries(record)) {
        const childAt = at === '' ? key : `${at}.${key}`
        const property = properties[key]
        if (property !== undefined) {
          errors.push(...validate(property, child, root, childAt))
        } else if (typeof schema.additionalProperties === 'object') {
          errors.push(...validate(schema.additionalProperties, child, root, childAt))
        } else if (schema.additionalProperties !== true) {
          errors.push(
            `${where}: unknown field \`${key}\`, expected one of ${Object.keys(properties)
              .map((k) => `\`${k}\``)
              .join(', ')}`,
          )
        }
      }
      return errors
    }
    case 'array': {
      if (!Array.isArray(value))
        return [`${where}: invalid type: ${typeName(value)}, expected a sequence`]
      value.forEach((item, index) => {
        if (schema.items !== undefined)
          errors.push(...validate(schema.items, item, root, `${where}[${index}]`))
      })
      return errors
    }
    case 'string':
      if (typeof value !== 'string')
        return [`${where}: invalid type: ${typeName(value)}, expected a string`]
      break
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value))
        return [`${where}: invalid type: ${typeName(value)}, expected an integer`]
      break
    case 'number':
      if (typeof value !== 'number')
        return [`${where}: invalid type: ${typeName(value)}, expected a number`]
      break
    case 'boolean':
      if (typeof value !== 'boolean')
        return [`${where}: invalid type: ${typeName(value)}, expected a boolean`]
      break
    case undefined:
      break
  }
  if (schema.enum !== undefined && !schema.enum.includes(value)) {
    errors.push(
      `${where}: unknown variant \`${String(value)}\`, expected one of ${schema.enum.map((v) => `\`${String(v)}\``).join(', ')}`,
    )
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum)
      errors.push(`${where}: ${value} is below the minimum ${schema.minimum}`)
    if (schema.maximum !== undefined && value > schema.maximum)
      errors.push(`${where}: ${value} is above the maximum ${schema.maximum}`)
  }
  return errors
}

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'sequence'
  return typeof value
}

export interface MatchedOperation {
  template: string
  params: Record<string, string>
  operation: Operation
}

/** The schema operation for a method and URL path ("/drives/rootfs" → "/drives/{drive_id}"). */
export function matchOperation(
  method: string,
  urlPath: string,
  root: Swagger = loadFirecrackerSchema(),
): MatchedOperation | undefined {
  const verb = method.toLowerCase() as 'get' | 'put' | 'patch'
  for (const [template, item] of Object.entries(root.paths)) {
    const names: string[] = []
    const pattern = new RegExp(
      `^${template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
        names.push(name)
        return '([^/]+)'
      })}$`,
    )
    const match = pattern.exec(urlPath)
    if (match === null) continue
    const operation = item[verb]
    if (operation === undefined) continue
    const params: Record<string, string> = {}
    names.forEach((name, index) => {
      params[name] = decodeURIComponent(match[index + 1] ?? '')
    })
    return { template, params, operation }
  }
  return undefined
}

/**
 * Checks one request against the schema: a known path and method, a body where the operation
 * takes one, and that body valid. Returns the errors (empty when the request is valid).
 */
export function validateRequest(
  method: string,
  urlPath: string,
  body: unknown,
  root: Swagger = loadFirecrackerSchema(),
): string[] {
  const matched = matchOperation(method, urlPath, root)
  if (matched === undefined) return [`Invalid request method and/or path: ${method} ${urlPath}.`]
  const bodyParam = matched.operation.parameters?.find((p) => p.in === 'body')
  if (bodyParam?.schema === undefined) {
    return body === undefined ? [] : [`${method} ${matched.template} takes no body`]
  }
  if (body === undefined) {
    const needed = bodyParam.required === true || hasRequired(bodyParam.schema, root)
    return needed ? ['EOF while parsing a value at line 1 column 0'] : []
  }
  return validate(bodyParam.schema, body, root)
}

function hasRequired(schema: Schema, root: Swagger): boolean {
  if (schema.$ref !== undefined)
    return hasRequired(definition(schema.$ref.replace(/^#\/definitions\//, ''), root), root)
  return (schema.required ?? []).length > 0
}

// ---------------------------------------------------------------------------------------------
// The fake VMM
// ---------------------------------------------------------------------------------------------

export interface FakeCall {
  method: string
  path: string
  body?: unknown
  status: number
  fault?: string
  at: number
}

export interface FakeFirecrackerOptions {
  id?: string
  apiSocket?: string
  /** Where the serial console goes (stdout for the executable). */
  console?: (text: string) => void
  env?: NodeJS.ProcessEnv
  /** Called when the VMM would exit (guest reboot, FAKE_FC_EXIT_AFTER_START_MS). */
  onExit?: (code: number) => void
  schema?: Swagger
}

class Fault extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message)
  }
}

const NOT_AFTER_BOOT = 'The requested operation is not supported after starting the microVM.'
const NOT_BEFORE_BOOT = 'The requested operation is not supported before starting the microVM.'
const INSTANCE_ID = /^[A-Za-z0-9-]{1,64}$/
const RESOURCE_ID = /^[A-Za-z0-9_]+$/

/** The VMM's state and its API, usable in-process (tests) or as the fake executable. */
export class FakeFirecracker {
  readonly id: string
  readonly calls: FakeCall[] = []
  readonly schema: Swagger
  started = false
  bootSource: Record<string, unknown> | undefined
  machineConfig: Record<string, unknown> = { vcpu_count: 1, mem_size_mib: 128, smt: false }
  readonly drives = new Map<string, Record<string, unknown>>()
  vsock: Record<string, unknown> | undefined
  logger: Record<string, unknown> | undefined
  #server: http.Server | undefined
  #vsockServer: net.Server | undefined
  #guestReadyAt = Number.POSITIVE_INFINITY
  #hostPort = 1073741824
  readonly #options: FakeFirecrackerOptions
  readonly #env: NodeJS.ProcessEnv
  readonly #children = new Set<ChildProcess>()
  readonly #vsockConnections = new Set<net.Socket>()

  constructor(options: FakeFirecrackerOptions = {}) {
    this.#options = options
    this.#env = options.env ?? process.env
    this.id = options.id ?? 'anonymous-instance'
    this.schema = options.schema ?? loadFirecrackerSchema()
  }

  /** Serves the API on `apiSocket` (which must not exist, as for Firecracker). */
  async listen(apiSocket: string): Promise<void> {
    if (existsSync(apiSocket)) {
      throw new Error(
        `Failed to open the API socket at: ${apiSocket}. Check that it is not already used.`,
      )
    }
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (chunk: Buffer) => chunks.push(chunk))
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        const { status, body } = this.handle(req.method ?? 'GET', req.url ?? '/', raw)
        if (body === undefined) {
          res.writeHead(status).end()
        } else {
          const text = JSON.stringify(body)
          res
            .writeHead(status, {
              'Content-Type': 'application/json',
              'Content-Length': Buffer.byteLength(text),
            })
            .end(text)
        }
      })
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(apiSocket, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.#server = server
  }

  async close(): Promise<void> {
    for (const child of this.#children) child.kill('SIGKILL')
    for (const socket of this.#vsockConnections) socket.destroy()
    const closing: Promise<void>[] = []
    const api = this.#server
    if (api !== undefined) {
      closing.push(
        new Promise<void>((resolve) =>
          api.close(() => {
            resolve()
          }),
        ),
      )
      api.closeAllConnections()
    }
    const vsock = this.#vsockServer
    if (vsock !== undefined)
      closing.push(
        new Promise<void>((resolve) =>
          vsock.close(() => {
            resolve()
          }),
        ),
      )
    await Promise.all(closing)
  }

  /** One API request: validates it, applies it, records it. */
  handle(method: string, url: string, rawBody: string): { status: number; body?: unknown } {
    const urlPath = url.split('?')[0] ?? url
    let body: unknown = undefined
    let result: { status: number; body?: unknown }
    try {
      if (rawBody.trim() !== '') {
        try {
          body = JSON.parse(rawBody) as unknown
        } catch (error) {
          throw new Fault(
            `An error occurred when deserializing the json body of a request: ${(error as Error).message}.`,
          )
        }
      }
      const errors = validateRequest(method, urlPath, body, this.schema)
      if (errors.length > 0) {
        const first = errors[0] ?? ''
        throw new Fault(
          first.startsWith('Invalid request method')
            ? first
            : `An error occurred when deserializing the json body of a request: ${first}.`,
        )
      }
      const injected = this.#injectedFault(method, urlPath)
      if (injected !== undefined) throw new Fault(injected)
      result = this.#apply(method, urlPath, body)
    } catch (error) {
      const fault = error instanceof Fault ? error : new Fault(String(error), 500)
      result = { status: fault.status, body: { fault_message: fault.message } }
    }
    const call: FakeCall = { method, path: urlPath, status: result.status, at: Date.now() }
    if (body !== undefined) call.body = body
    const faultText = (result.body as { fault_message?: string } | undefined)?.fault_message
    if (result.status >= 400 && faultText !== undefined) call.fault = faultText
    this.calls.push(call)
    const log = this.#env.FAKE_FC_LOG
    if (log !== undefined && log !== '') appendFileSync(log, `${JSON.stringify(call)}\n`)
    return result
  }

  #injectedFault(method: string, urlPath: string): string | undefined {
    const spec = this.#env.FAKE_FC_FAULTS
    if (spec === undefined || spec === '') return undefined
    const faults = JSON.parse(spec) as Record<string, string>
    return faults[`${method} ${urlPath}`]
  }

  #apply(method: string, urlPath: string, body: unknown): { status: number; body?: unknown } {
    const record = (body ?? {}) as Record<string, unknown>
    if (method === 'GET') return this.#get(urlPath)
    if (method === 'PUT' && urlPath === '/actions') return this.#action(record)
    if (method === 'PUT') {
      if (this.started) throw new Fault(NOT_AFTER_BOOT)
      this.#put(urlPath, record)
      return { status: 204 }
    }
    // PATCH: accepted when valid (the driver sends none; kept permissive on purpose).
    return { status: 204 }
  }

  #get(urlPath: string): { status: number; body?: unknown } {
    const answer = (body: unknown, definitionName: string): { status: number; body: unknown } => {
      // The fake checks its own answers against the schema too.
      const errors = validate({ $ref: `#/definitions/${definitionName}` }, body, this.schema)
      if (errors.length > 0) throw new Fault(`fake-firecracker bug: ${errors.join('; ')}`, 500)
      return { status: 200, body }
    }
    switch (urlPath) {
      case '/':
        return answer(
          {
            app_name: 'Firecracker',
            id: this.id,
            state: this.started ? 'Running' : 'Not started',
            vmm_version: this.version,
          },
          'InstanceInfo',
        )
      case '/version':
        return answer({ firecracker_version: this.version }, 'FirecrackerVersion')
      case '/machine-config':
        return answer(this.machineConfig, 'MachineConfiguration')
      case '/vm/config':
        return answer(this.fullConfig(), 'FullVmConfiguration')
      default:
        throw new Fault(`fake-firecracker does not implement GET ${urlPath}`)
    }
  }

  get version(): string {
    return this.#env.FAKE_FC_VERSION ?? this.schema.info.version
  }

  fullConfig(): Record<string, unknown> {
    const config: Record<string, unknown> = {
      'machine-config': this.machineConfig,
      drives: [...this.drives.values()],
    }
    if (this.bootSource !== undefined) config['boot-source'] = this.bootSource
    if (this.vsock !== undefined) config.vsock = this.vsock
    if (this.logger !== undefined) config.logger = this.logger
    return config
  }

  #put(urlPath: string, body: Record<string, unknown>): void {
    const drive = /^\/drives\/([^/]+)$/.exec(urlPath)
    if (drive !== null) {
      this.#putDrive(decodeURIComponent(drive[1] ?? ''), body)
      return
    }
    switch (urlPath) {
      case '/logger': {
        const logPath = body.log_path
        if (typeof logPath === 'string')
          requireFile(logPath, 'w', 'Logger: failed to open the log file')
        this.logger = body
        return
      }
      case '/machine-config': {
        const vcpus = body.vcpu_count as number
        const mem = body.mem_size_mib as number
        if (body.smt === true && vcpus > 1 && vcpus % 2 === 1)
          throw new Fault(
            'The number of vCPUs must be greater than 0, less than 32 and must be 1 or an even number if SMT is enabled.',
          )
        if (mem <= 0)
          throw new Fault(
            'The memory size (MiB) is either 0, or not a multiple of the configured page size.',
          )
        this.machineConfig = { smt: false, ...body }
        return
      }
      case '/boot-source': {
        requireFile(body.kernel_image_path as string, 'r', 'The kernel file cannot be opened')
        if (typeof body.initrd_path === 'string')
          requireFile(body.initrd_path, 'r', 'The initrd file cannot be opened')
        this.bootSource = body
        return
      }
      case '/vsock': {
        const udsPath = body.uds_path as string
        if (this.#vsockServer !== undefined) {
          this.#vsockServer.close()
          this.#vsockServer = undefined
        }
        if (existsSync(udsPath)) {
          throw new Fault(
            'Cannot create backend for vsock device: UnixBind(Os { code: 98, kind: AddrInUse, message: "Address in use" })',
          )
        }
        this.#vsockServer = this.#serveVsock(udsPath)
        this.vsock = body
        return
      }
      default:
        // Valid per the schema but not modelled (balloon, mmds, metrics, ...): accepted.
        return
    }
  }

  #putDrive(id: string, body: Record<string, unknown>): void {
    if (!RESOURCE_ID.test(id))
      throw new Fault("The resource ID must only contain alphanumeric characters and '_'.")
    if (body.drive_id !== id)
      throw new Fault('The id from the path does not match the id from the body!')
    if (body.socket === undefined) {
      // virtio-block (not vhost-user): Firecracker needs the file and the access mode.
      if (typeof body.path_on_host !== 'string' || typeof body.is_read_only !== 'boolean')
        throw new Fault(
          'Unable to create the virtio block device: path_on_host and is_read_only are required',
        )
      requireFile(
        body.path_on_host,
        body.is_read_only ? 'r' : 'rw',
        'Unable to create the virtio block device: Cannot open block device',
      )
    }
    if (body.is_root_device === true) {
      const other = [...this.drives.values()].find(
        (d) => d.is_root_device === true && d.drive_id !== id,
      )
      if (other !== undefined) throw new Fault('A root block device already exists!')
    }
    this.drives.set(id, body)
  }

  #action(body: Record<string, unknown>): { status: number } {
    switch (body.action_type) {
      case 'InstanceStart':
        if (this.started) throw new Fault(NOT_AFTER_BOOT)
        if (this.bootSource === undefined)
          throw new Fault('Cannot start microvm without kernel configuration.')
        this.start()
        return { status: 204 }
      case 'SendCtrlAltDel':
        if (!this.started) throw new Fault(NOT_BEFORE_BOOT)
        this.#console('[   12.345678] reboot: Restarting system\n')
        setTimeout(() => this.#options.onExit?.(0), 20)
        return { status: 204 }
      default:
        return { status: 204 }
    }
  }

  /** Boots the pretend guest: console lines, then the agent listens after the delay. */
  start(): void {
    this.started = true
    const boot = this.bootSource ?? {}
    const drives = [...this.drives.values()]
    const lines = [
      `[    0.000000] Linux version 6.1.0-fake (fake-firecracker ${this.version})`,
      `[    0.000000] Command line: ${typeof boot.boot_args === 'string' ? boot.boot_args : ''}`,
      `[    0.010000] Memory: ${String(this.machineConfig.mem_size_mib)}MiB, ${String(this.machineConfig.vcpu_count)} vCPUs`,
      ...(typeof boot.initrd_path === 'string'
        ? [`[    0.020000] Trying to unpack rootfs image as initramfs...`]
        : []),
      ...drives.map(
        (d, i) =>
          `[    0.030000] virtio_blk virtio${i}: [vd${String.fromCharCode(97 + i)}] ${d.is_read_only === true ? 'read-only ' : ''}${String(d.drive_id)}`,
      ),
      `[    0.040000] NET: Registered PF_VSOCK protocol family`,
    ]
    this.#console(`${lines.join('\n')}\n`)
    const delay = Number(this.#env.FAKE_FC_GUEST_DELAY_MS ?? 0)
    this.#guestReadyAt = Date.now() + delay
    setTimeout(() => {
      this.#console('[    0.500000] safe-coder guest agent listening on vsock port 1024\n')
    }, delay)
    const exitAfter = this.#env.FAKE_FC_EXIT_AFTER_START_MS
    if (exitAfter !== undefined && exitAfter !== '') {
      setTimeout(() => {
        this.#console(
          '[    1.000000] Kernel panic - not syncing: fake-firecracker was told to stop\n',
        )
        this.#options.onExit?.(Number(this.#env.FAKE_FC_EXIT_CODE ?? 0))
      }, Number(exitAfter))
    }
  }

  #console(text: string): void {
    ;(this.#options.console ?? ((t: string) => process.stdout.write(t)))(text)
  }

  /**
   * The host side of the vsock device. Before InstanceStart nobody reads the socket (the
   * device is not active); then `CONNECT <port>\n` is answered, or the connection is closed
   * when the guest has no listener on that port yet.
   */
  #serveVsock(udsPath: string): net.Server {
    const server = net.createServer((socket) => {
      this.#vsockConnections.add(socket)
      socket.on('close', () => this.#vsockConnections.delete(socket))
      socket.on('error', () => undefined)
      let buffered = ''
      let handled = false
      const onData = (chunk: Buffer): void => {
        if (handled) return
        buffered += chunk.toString('latin1')
        // Before InstanceStart the device is not active: nobody reads the request yet.
        if (!this.started) return
        const newline = buffered.indexOf('\n')
        if (newline < 0) {
          if (buffered.length > 32) socket.destroy()
          return
        }
        handled = true
        clearInterval(poll)
        socket.off('data', onData)
        socket.pause()
        const line = buffered.slice(0, newline)
        const rest = Buffer.from(buffered.slice(newline + 1), 'latin1')
        this.#connect(socket, line, rest)
      }
      socket.on('data', onData)
      // Connections made before boot are served once the device is up.
      const poll = setInterval(() => {
        if (socket.destroyed) clearInterval(poll)
        else if (this.started && buffered !== '') onData(Buffer.alloc(0))
      }, 10)
      socket.on('close', () => {
        clearInterval(poll)
      })
    })
    server.listen(udsPath)
    server.on('error', () => undefined)
    return server
  }

  #connect(socket: net.Socket, line: string, rest: Buffer): void {
    const match = /^CONNECT ([0-9]+)$/.exec(line)
    const port = Number(this.#env.FAKE_FC_GUEST_PORT ?? 1024)
    // Firecracker drops host connections that do not start with a valid CONNECT, and the guest
    // resets connections to ports nobody listens on.
    if (match === null || Number(match[1]) !== port || Date.now() < this.#guestReadyAt) {
      socket.destroy()
      return
    }
    const reply = this.#env.FAKE_FC_VSOCK_REPLY
    if (reply !== undefined && reply !== '') {
      socket.end(`${reply}\n`)
      return
    }
    socket.write(`OK ${this.#hostPort++}\n`)
    const guest = this.#env.FAKE_FC_GUEST
    if (guest === undefined || guest === '') {
      if (rest.length > 0) socket.write(rest)
      socket.pipe(socket)
      socket.resume()
      return
    }
    const child = spawn('sh', ['-c', guest], { stdio: ['pipe', 'pipe', 'inherit'] })
    this.#children.add(child)
    child.on('exit', () => {
      this.#children.delete(child)
      socket.end()
    })
    child.stdin.on('error', () => undefined)
    if (rest.length > 0) child.stdin.write(rest)
    socket.pipe(child.stdin)
    child.stdout.pipe(socket)
    socket.on('close', () => child.stdin.end())
    socket.resume()
  }

  /** Applies a `--config-file` document the way Firecracker does, then boots. */
  bootFromConfig(configJson: string): void {
    let config: Record<string, unknown>
    try {
      config = JSON.parse(configJson) as Record<string, unknown>
    } catch (error) {
      throw new Fault(`Invalid JSON: ${(error as Error).message}`)
    }
    const errors = validateConfigFile(config, this.schema)
    if (errors.length > 0) throw new Fault(`Invalid JSON: ${errors[0] ?? ''}`)
    const section = (key: string): Record<string, unknown> | undefined =>
      config[key] as Record<string, unknown> | undefined
    const logger = section('logger')
    if (logger !== undefined) this.#put('/logger', logger)
    const machine = section('machine-config')
    if (machine !== undefined) this.#put('/machine-config', machine)
    this.#put('/boot-source', section('boot-source') ?? {})
    for (const drive of (config.drives ?? []) as Record<string, unknown>[]) {
      this.#putDrive(String(drive.drive_id), drive)
    }
    const vsock = section('vsock')
    if (vsock !== undefined) this.#put('/vsock', vsock)
    this.start()
  }
}

/**
 * A `--config-file` document: `FullVmConfiguration` from the schema, plus what Firecracker's
 * `VmmConfig` struct needs although the schema marks nothing required (`boot-source` and
 * `drives` are not optional there).
 */
export function validateConfigFile(
  config: unknown,
  root: Swagger = loadFirecrackerSchema(),
): string[] {
  const errors = validate({ $ref: '#/definitions/FullVmConfiguration' }, config, root)
  if (typeof config === 'object' && config !== null) {
    for (const key of ['boot-source', 'drives']) {
      if (!(key in config)) errors.push(`(body): missing field \`${key}\``)
    }
  }
  return errors
}

function requireFile(file: string, mode: 'r' | 'w' | 'rw', what: string): void {
  try {
    if (!statSync(file).isFile()) throw new Error('not a regular file')
    const flags =
      (mode.includes('r') ? constants.R_OK : 0) | (mode.includes('w') ? constants.W_OK : 0)
    accessSync(file, flags)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why =
      code === 'ENOENT'
        ? 'No such file or directory (os error 2)'
        : code === 'EACCES'
          ? 'Permission denied (os error 13)'
          : (error as Error).message
    throw new Fault(`${what}: ${why}`)
  }
}

// ---------------------------------------------------------------------------------------------
// The executable
// ---------------------------------------------------------------------------------------------

const VALUE_ARGS = new Set([
  'api-sock',
  'id',
  'config-file',
  'level',
  'log-path',
  'metadata',
  'mmds-size-limit',
  'http-api-max-payload-size',
  'seccomp-filter',
  'module',
  'metrics-path',
])
const FLAG_ARGS = new Set([
  'no-api',
  'version',
  'help',
  'boot-timer',
  'no-seccomp',
  'show-level',
  'show-log-origin',
  'snapshot-version',
])

function parseArgs(argv: string[]): Map<string, string | true> {
  const args = new Map<string, string | true>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    const name = arg.replace(/^--/, '')
    if (!arg.startsWith('--') || (!VALUE_ARGS.has(name) && !FLAG_ARGS.has(name))) {
      throw new Error(
        `Arguments parsing error: Found argument '${arg}' which wasn't expected, or isn't valid in this context.`,
      )
    }
    if (FLAG_ARGS.has(name)) {
      args.set(name, true)
      continue
    }
    const value = argv[++i]
    if (value === undefined) throw new Error(`Arguments parsing error: '${arg}' requires a value.`)
    args.set(name, value)
  }
  return args
}

export async function main(argv: string[]): Promise<void> {
  const fail = (message: string): never => {
    process.stderr.write(`${message}\n`)
    process.exit(1)
  }
  let args: Map<string, string | true>
  try {
    args = parseArgs(argv)
  } catch (error) {
    return fail((error as Error).message)
  }
  const schema = loadFirecrackerSchema()
  if (args.has('version')) {
    process.stdout.write(`Firecracker v${process.env.FAKE_FC_VERSION ?? schema.info.version}\n\n`)
    process.exit(0)
  }
  const id = args.get('id')
  if (typeof id === 'string' && !INSTANCE_ID.test(id)) {
    const bad = /[^A-Za-z0-9-]/.exec(id)?.index ?? -1
    fail(
      bad < 0
        ? `Invalid instance ID: Invalid len (${id.length});  the length must be between 1 and 64`
        : `Invalid instance ID: Invalid char (${id[bad] ?? '?'}) at position ${bad}`,
    )
  }
  const vmm = new FakeFirecracker({
    id: typeof id === 'string' ? id : 'anonymous-instance',
    schema,
    onExit: (code) => process.exit(code),
  })
  const noApi = args.get('no-api') === true
  const apiSocket = args.get('api-sock')
  const configFile = args.get('config-file')
  if (noApi && typeof configFile !== 'string')
    fail('Arguments parsing error: --no-api requires --config-file.')
  if (!noApi) {
    try {
      await vmm.listen(typeof apiSocket === 'string' ? apiSocket : '/run/firecracker.socket')
    } catch (error) {
      fail((error as Error).message)
    }
  }
  if (typeof configFile === 'string') {
    try {
      vmm.bootFromConfig(readFileSync(path.resolve(configFile), 'utf8'))
    } catch (error) {
      fail(`Configuration for VMM from one single json failed: ${(error as Error).message}`)
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main(process.argv.slice(2))
}
