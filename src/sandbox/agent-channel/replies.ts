/**
 * Checks on what the agent says. Everything here is hostile input: a field of the wrong type,
 * a path that is not a plain relative path, a number out of range is a protocol violation
 * (the client closes the channel), never something the host acts on.
 */

import { ProtocolError, type JsonObject } from '../../guest/protocol.js'
import type { DirEntry, FileKind } from '../types.js'
import type { AgentHello, WorkspaceChange } from './types.js'

export { MAX_LIST_ENTRIES } from '../../guest/protocol.js'
/** Cap on changes + skipped of one `changes`. */
export const MAX_CHANGES = 4_000_000

export function violation(detail: string): ProtocolError {
  return new ProtocolError(detail)
}

/** Agent-provided text fit for an error message: one line, printable, at most `max` chars. */
export function clean(text: unknown, max = 200): string {
  const value = typeof text === 'string' ? text : JSON.stringify(text)
  // eslint-disable-next-line no-control-regex
  const flat = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ')
  return flat.length > max ? `${flat.slice(0, max)}…` : flat
}

export function integer(value: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    throw violation(`${what} is not an integer in [0, ${max}] (${clean(value, 40)})`)
  }
  return value
}

export function finite(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw violation(`${what} is not a non-negative number (${clean(value, 40)})`)
  }
  return value
}

export function string(value: unknown, what: string, max = 64 * 1024): string {
  if (typeof value !== 'string' || value.length > max) {
    throw violation(`${what} is not a string of at most ${max} characters`)
  }
  return value
}

/**
 * A path as the agent reports it: relative, '/'-separated, no empty, '.' or '..' component,
 * no NUL, at most 4096 bytes.
 */
export function relativePath(value: unknown, what: string): string {
  const path = string(value, what, 4096)
  const ok =
    path !== '' &&
    !path.includes('\0') &&
    Buffer.byteLength(path) <= 4096 &&
    path.split('/').every((name) => name !== '' && name !== '.' && name !== '..')
  if (!ok) throw violation(`${what} ${JSON.stringify(clean(path, 80))} is not a relative path`)
  return path
}

export function array(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw violation(`${what} is not a list`)
  return value
}

export function object(value: unknown, what: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw violation(`${what} is not an object`)
  }
  return value as JsonObject
}

/** The hello's fields (its shape is the same in every protocol version). */
export function parseHello(message: JsonObject): AgentHello & { connection: number } {
  return {
    protocol: integer(message.protocol, 'hello.protocol'),
    version: clean(string(message.version, 'hello.version', 100), 100),
    kernel: clean(string(message.kernel, 'hello.kernel', 200), 200),
    pid: integer(message.pid, 'hello.pid'),
    root: string(message.root, 'hello.root', 4096),
    features: (message.features === undefined ? [] : array(message.features, 'hello.features'))
      .slice(0, 32)
      .map((feature) => clean(string(feature, 'a hello feature', 100), 100)),
    connection:
      message.connection === undefined ? 0 : integer(message.connection, 'hello.connection'),
  }
}

/** The file type from a raw st_mode. */
export function kindOfMode(mode: number): FileKind {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file'
    case 0o040000:
      return 'dir'
    case 0o120000:
      return 'symlink'
    default:
      return 'other'
  }
}

/** One `[name, rawMode, size]` entry of a listing. */
export function parseDirEntry(value: unknown): DirEntry {
  const [name, mode, size] = array(value, 'a listing entry')
  const text = string(name, 'an entry name', 4096)
  if (text === '' || text === '.' || text === '..' || /[/\0]/.test(text)) {
    throw violation(`the entry name ${JSON.stringify(clean(text, 80))} is not a file name`)
  }
  const raw = integer(mode, 'an entry mode', 0o177777)
  return {
    name: text,
    kind: kindOfMode(raw),
    size: integer(size, 'an entry size'),
    mode: raw & 0o7777,
  }
}

const SHA256 = /^[0-9a-f]{64}$/

export function sha256Field(value: unknown, what: string): string {
  if (typeof value !== 'string' || !SHA256.test(value)) throw violation(`${what} is not a sha256`)
  return value
}

export function parseChange(value: unknown): WorkspaceChange {
  const change = object(value, 'a change')
  const path = relativePath(change.path, 'a changed path')
  switch (change.kind) {
    case 'file':
      return {
        path,
        kind: 'file',
        mode: integer(change.mode, `the mode of ${path}`, 0o7777),
        size: integer(change.size, `the size of ${path}`),
        sha256: sha256Field(change.sha256, `the sha256 of ${path}`),
      }
    case 'too-large':
      return {
        path,
        kind: 'too-large',
        mode: integer(change.mode, `the mode of ${path}`, 0o7777),
        size: integer(change.size, `the size of ${path}`),
      }
    case 'symlink': {
      const target = string(change.target, `the target of ${path}`, 4096)
      if (target === '' || target.includes('\0'))
        throw violation(`the target of ${path} is empty or has NUL`)
      return { path, kind: 'symlink', target }
    }
    case 'dir':
      return { path, kind: 'dir', mode: integer(change.mode, `the mode of ${path}`, 0o7777) }
    case 'deleted':
      return { path, kind: 'deleted' }
    default:
      throw violation(`the change of ${path} has an unknown kind ${clean(change.kind, 20)}`)
  }
}

export function parseSkipped(value: unknown): { path: string; reason: string } {
  const skipped = object(value, 'a skipped path')
  return {
    path: clean(string(skipped.path, 'a skipped path', 16 * 1024), 16 * 1024),
    reason: clean(string(skipped.reason, 'a skip reason', 1000)),
  }
}
