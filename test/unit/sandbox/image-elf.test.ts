import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { elfLinkage } from '../../../src/sandbox/docker/image-elf.js'

const PT_LOAD = 1
const PT_INTERP = 3

/** A minimal 64-bit little-endian ELF: header, program headers, then the interpreter path. */
function elf64(types: number[], interpreter = '/lib64/ld-linux-x86-64.so.2'): Uint8Array {
  const phoff = 64
  const phentsize = 56
  const dataOffset = phoff + types.length * phentsize
  const path = new TextEncoder().encode(`${interpreter}\0`)
  const bytes = new Uint8Array(dataOffset + path.length)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, 0x7f454c46)
  bytes[4] = 2
  bytes[5] = 1
  view.setBigUint64(0x20, BigInt(phoff), true)
  view.setUint16(0x36, phentsize, true)
  view.setUint16(0x38, types.length, true)
  types.forEach((type, i) => {
    const header = phoff + i * phentsize
    view.setUint32(header, type, true)
    view.setBigUint64(header + 8, BigInt(dataOffset), true)
    view.setBigUint64(header + 32, BigInt(path.length), true)
  })
  bytes.set(path, dataOffset)
  return bytes
}

/** The same for 32-bit big-endian, to exercise the other header layout. */
function elf32be(types: number[], interpreter = '/lib/ld.so.1'): Uint8Array {
  const phoff = 52
  const phentsize = 32
  const dataOffset = phoff + types.length * phentsize
  const path = new TextEncoder().encode(`${interpreter}\0`)
  const bytes = new Uint8Array(dataOffset + path.length)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, 0x7f454c46)
  bytes[4] = 1
  bytes[5] = 2
  view.setUint32(0x1c, phoff)
  view.setUint16(0x2a, phentsize)
  view.setUint16(0x2c, types.length)
  types.forEach((type, i) => {
    const header = phoff + i * phentsize
    view.setUint32(header, type)
    view.setUint32(header + 4, dataOffset)
    view.setUint32(header + 16, path.length)
  })
  bytes.set(path, dataOffset)
  return bytes
}

describe('elfLinkage', () => {
  it('sees the interpreter of a dynamically linked 64-bit binary', () => {
    expect(elfLinkage(elf64([PT_LOAD, PT_INTERP, PT_LOAD]))).toEqual({
      kind: 'dynamic',
      interpreter: '/lib64/ld-linux-x86-64.so.2',
    })
  })

  it('calls a binary without PT_INTERP static', () => {
    expect(elfLinkage(elf64([PT_LOAD, PT_LOAD]))).toEqual({ kind: 'static' })
  })

  it('reads 32-bit big-endian headers', () => {
    expect(elfLinkage(elf32be([PT_INTERP]))).toEqual({
      kind: 'dynamic',
      interpreter: '/lib/ld.so.1',
    })
    expect(elfLinkage(elf32be([PT_LOAD]))).toEqual({ kind: 'static' })
  })

  it('rejects scripts, empty files and truncated headers', () => {
    expect(elfLinkage(new TextEncoder().encode('#!/bin/sh\necho hi\n'.repeat(4)))).toEqual({
      kind: 'not-elf',
    })
    expect(elfLinkage(new Uint8Array())).toEqual({ kind: 'not-elf' })
    expect(elfLinkage(elf64([PT_LOAD, PT_INTERP]).subarray(0, 100))).toEqual({ kind: 'not-elf' })
  })

  it('agrees with the real Node binary when it is ELF', async () => {
    const node = await readFile(process.execPath)
    const linkage = elfLinkage(node)
    if (process.platform === 'linux') expect(linkage.kind).not.toBe('not-elf')
    else expect(linkage).toEqual({ kind: 'not-elf' })
  })
})
