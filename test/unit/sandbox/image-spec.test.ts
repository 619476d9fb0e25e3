import { describe, expect, it } from 'vitest'
import { debootstrapArgs } from '../../../src/sandbox/docker/image-debootstrap.js'
import {
  IMAGE_LABELS,
  imageChanges,
  normalizePackages,
  quoteDockerfile,
  sandboxInputsHash,
  splitImageRef,
} from '../../../src/sandbox/docker/image-spec.js'

const inputs = {
  suite: 'bookworm',
  mirror: 'http://deb.debian.org/debian',
  packages: ['git', 'bash', 'ripgrep'],
}

describe('sandboxInputsHash', () => {
  it('is a sha256 hex digest', () => {
    expect(sandboxInputsHash(inputs)).toMatch(/^[0-9a-f]{64}$/)
  })

  it('ignores package order and duplicates', () => {
    const shuffled = { ...inputs, packages: ['ripgrep', 'git', 'bash', 'git'] }
    expect(sandboxInputsHash(shuffled)).toBe(sandboxInputsHash(inputs))
  })

  it('changes with the suite, the mirror and the package set', () => {
    const base = sandboxInputsHash(inputs)
    expect(sandboxInputsHash({ ...inputs, suite: 'trixie' })).not.toBe(base)
    expect(sandboxInputsHash({ ...inputs, mirror: 'http://mirror.example/debian' })).not.toBe(base)
    expect(sandboxInputsHash({ ...inputs, packages: ['git', 'bash'] })).not.toBe(base)
  })

  it('cannot be fooled by moving text between fields', () => {
    const a = { suite: 'bookworm', mirror: 'm', packages: ['a,b'] }
    const b = { suite: 'bookworm', mirror: 'm', packages: ['a', 'b'] }
    expect(sandboxInputsHash(a)).not.toBe(sandboxInputsHash(b))
  })
})

describe('normalizePackages', () => {
  it('sorts and removes duplicates without touching the input', () => {
    const packages = ['make', 'bash', 'make']
    expect(normalizePackages(packages)).toEqual(['bash', 'make'])
    expect(packages).toEqual(['make', 'bash', 'make'])
  })
})

describe('imageChanges', () => {
  it('gives one Dockerfile instruction per value, labels quoted', () => {
    const changes = imageChanges({
      workdir: '/workspace',
      env: { PATH: '/usr/bin:/bin' },
      cmd: ['/bin/sh'],
      labels: { [IMAGE_LABELS.kind]: 'sandbox', [IMAGE_LABELS.packages]: 'bash,git' },
    })
    expect(changes).toEqual([
      'WORKDIR /workspace',
      'ENV PATH="/usr/bin:/bin"',
      'CMD ["/bin/sh"]',
      'LABEL "safe-coder.image"="sandbox"',
      'LABEL "safe-coder.packages"="bash,git"',
    ])
  })
})

describe('quoteDockerfile', () => {
  it('escapes quotes, backslashes and variable expansion', () => {
    expect(quoteDockerfile('a "b" \\ $HOME')).toBe('"a \\"b\\" \\\\ \\$HOME"')
  })

  it('refuses line breaks, which would end the instruction', () => {
    expect(() => quoteDockerfile('a\nRUN x')).toThrow(/line break/)
  })
})

describe('splitImageRef', () => {
  it.each([
    ['safe-coder/sandbox:0.1.0', 'safe-coder/sandbox', '0.1.0'],
    ['busybox', 'busybox', 'latest'],
    ['localhost:5000/team/img', 'localhost:5000/team/img', 'latest'],
    ['localhost:5000/team/img:v2', 'localhost:5000/team/img', 'v2'],
  ])('%s', (ref, repo, tag) => {
    expect(splitImageRef(ref)).toEqual({ repo, tag })
  })
})

describe('debootstrapArgs', () => {
  it('builds a minbase tree with the packages included', () => {
    const args = debootstrapArgs({ ...inputs, target: '/tmp/root' })
    expect(args).toEqual([
      '--variant=minbase',
      '--include=git,bash,ripgrep',
      'bookworm',
      '/tmp/root',
      'http://deb.debian.org/debian',
    ])
  })

  it('leaves out --include when there are no packages', () => {
    expect(debootstrapArgs({ ...inputs, packages: [], target: '/r' })).not.toContain('--include=')
  })
})
