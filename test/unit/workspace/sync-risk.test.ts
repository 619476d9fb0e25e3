import { describe, expect, it } from 'vitest'
import { projectSearchPlaces } from '../../../src/config/index.js'
import { classifyBytes } from '../../../src/git/diff-content.js'
import type { GitFileMode } from '../../../src/shared/manifest.js'
import { riskyPathRules, rulesMatching } from '../../../src/workspace/sync-risk-paths.js'
import { assessRisks, riskFlagsOf, type RiskInput } from '../../../src/workspace/sync-risk.js'
import type { RiskFlag } from '../../../src/workspace/sync-types.js'

/** A plain file change with this mode on both sides (a new file when `hostMode` is undefined). */
function change(path: string, mode: GitFileMode = 0o100644, hostMode?: GitFileMode): RiskInput {
  return {
    path,
    action: hostMode === undefined ? 'create' : 'modify',
    session: { oid: 'a'.repeat(40), mode, size: 10 },
    ...(hostMode === undefined ? {} : { host: { oid: 'b'.repeat(40), mode: hostMode, size: 10 } }),
    maxFileBytes: 1024,
  }
}

/** One example path per rule of the risky-path list, and the flag it must raise. */
const examples: [string, RiskFlag][] = [
  ['.gitattributes', 'git-config'],
  ['.gitmodules', 'git-config'],
  ['.gitignore', 'git-config'],
  ['lib/.git-blame-ignore-revs', 'git-config'],
  ['.github/workflows/ci.yml', 'ci-workflow'],
  ['.github/actions/setup/action.yml', 'ci-workflow'],
  ['.gitlab-ci.yml', 'ci-workflow'],
  ['.circleci/config.yml', 'ci-workflow'],
  ['Jenkinsfile', 'ci-workflow'],
  ['.travis.yml', 'ci-workflow'],
  ['azure-pipelines.yml', 'ci-workflow'],
  ['bitbucket-pipelines.yml', 'ci-workflow'],
  ['.buildkite/pipeline.yml', 'ci-workflow'],
  ['.husky/pre-commit', 'git-hooks'],
  ['.pre-commit-config.yaml', 'git-hooks'],
  ['lefthook.yml', 'git-hooks'],
  ['.lefthook.yml', 'git-hooks'],
  ['.lintstagedrc.json', 'git-hooks'],
  ['lint-staged.config.mjs', 'git-hooks'],
  ['.npmrc', 'package-manager'],
  ['packages/a/.npmrc', 'package-manager'],
  ['.yarnrc', 'package-manager'],
  ['.yarnrc.yml', 'package-manager'],
  ['.yarn/releases/yarn-4.1.0.cjs', 'package-manager'],
  ['.yarn/plugins/@yarnpkg/plugin-x.cjs', 'package-manager'],
  ['.pnpmfile.cjs', 'package-manager'],
  ['bunfig.toml', 'package-manager'],
  ['.tool-versions', 'toolchain'],
  ['.mise.toml', 'toolchain'],
  ['mise.toml', 'toolchain'],
  ['rust-toolchain.toml', 'toolchain'],
  ['rust-toolchain', 'toolchain'],
  ['.cargo/config.toml', 'toolchain'],
  ['crates/x/.cargo/config', 'toolchain'],
  ['setup.py', 'build-hooks'],
  ['setup.cfg', 'build-hooks'],
  ['pyproject.toml', 'build-hooks'],
  ['build.rs', 'build-hooks'],
  ['crates/x/build.rs', 'build-hooks'],
  ['conftest.py', 'build-hooks'],
  ['tests/unit/conftest.py', 'build-hooks'],
  ['Gemfile', 'build-hooks'],
  ['Rakefile', 'build-hooks'],
  ['tool.gemspec', 'build-hooks'],
  ['build.gradle', 'build-hooks'],
  ['app/build.gradle.kts', 'build-hooks'],
  ['settings.gradle', 'build-hooks'],
  ['settings.gradle.kts', 'build-hooks'],
  ['gradle/wrapper/gradle-wrapper.properties', 'build-hooks'],
  ['justfile', 'build-hooks'],
  ['.justfile', 'build-hooks'],
  ['Taskfile.yml', 'build-hooks'],
  ['Taskfile.yaml', 'build-hooks'],
  ['Makefile', 'makefile'],
  ['src/makefile', 'makefile'],
  ['GNUmakefile', 'makefile'],
  ['rules.mk', 'makefile'],
  ['.envrc', 'shell-rc'],
  ['.bashrc', 'shell-rc'],
  ['.bash_profile', 'shell-rc'],
  ['.bash_login', 'shell-rc'],
  ['.bash_logout', 'shell-rc'],
  ['.zshrc', 'shell-rc'],
  ['.zshenv', 'shell-rc'],
  ['.zprofile', 'shell-rc'],
  ['.zlogin', 'shell-rc'],
  ['.profile', 'shell-rc'],
  ['.vscode/tasks.json', 'editor-config'],
  ['.vscode/settings.json', 'editor-config'],
  ['web/.vscode/launch.json', 'editor-config'],
  ['project.code-workspace', 'editor-config'],
  ['.devcontainer/devcontainer.json', 'editor-config'],
  ['.devcontainer/Dockerfile', 'editor-config'],
  ['.devcontainer.json', 'editor-config'],
  ['.idea/workspace.xml', 'editor-config'],
  ['.safecoderrc', 'safecoder-config'],
  ['sub/.safecoderrc.toml', 'safecoder-config'],
  ['safecoder.config.mjs', 'safecoder-config'],
]

describe('risky paths', () => {
  it.each(examples)('%s is flagged %s, with a reason', (path, flag) => {
    expect(riskFlagsOf(change(path))).toContain(flag)
    const reason = assessRisks(change(path)).find((risk) => risk.flag === flag)?.reason
    expect(reason).toMatch(/\w{4}/)
  })

  it('has an example above for every rule of the list', () => {
    const covered = new Set(examples.flatMap(([path]) => rulesMatching(path)))
    const untested = riskyPathRules.filter((rule) => !covered.has(rule)).map((r) => r.pattern)
    expect(untested).toEqual([])
  })

  it.each(projectSearchPlaces.filter((name) => name !== 'package.json'))(
    'flags %s, a file the config search reads',
    (name) => {
      expect(riskFlagsOf(change(name))).toEqual(['safecoder-config'])
      expect(riskFlagsOf(change(`packages/app/${name}`))).toEqual(['safecoder-config'])
    },
  )

  it.each([
    'src/index.ts',
    'docs/Makefile.md',
    'github/workflows/ci.yml',
    '.vscode/extensions.json',
    'notes/setup.py.txt',
    'mygitignore',
    'husky/pre-commit',
    'cargo/config.toml',
    'README.md',
  ])('leaves %s alone', (path) => {
    expect(riskFlagsOf(change(path))).toEqual([])
  })

  // A case-insensitive host opens `.NPMRC` when npm asks for `.npmrc`.
  it.each([
    ['MAKEFILE', 'makefile'],
    ['.NPMRC', 'package-manager'],
    ['.VSCode/Tasks.JSON', 'editor-config'],
    ['.github/Workflows/ci.yml', 'ci-workflow'],
    ['.npmrc.', 'package-manager'],
    ['.npm\u200crc', 'package-manager'],
  ] as const)('matches %s in any spelling a host may fold to a listed name', (path, flag) => {
    expect(riskFlagsOf(change(path))).toContain(flag)
  })
})

describe('executables', () => {
  it('flags a new executable, a file made executable and an edit of an executable', () => {
    expect(riskFlagsOf(change('new.sh', 0o100755))).toEqual(['executable'])
    expect(riskFlagsOf(change('a.sh', 0o100755, 0o100644))).toEqual(['executable'])
    expect(riskFlagsOf(change('bin/tool', 0o100755, 0o100755))).toEqual(['executable'])
    const reasons = [change('a.sh', 0o100755, 0o100644), change('bin/tool', 0o100755, 0o100755)]
      .flatMap((input) => assessRisks(input))
      .map((risk) => risk.reason)
    expect(reasons[0]).toMatch(/becomes executable/)
    expect(reasons[1]).toMatch(/already executable/)
  })

  it('does not flag a file that stops being executable, or a deleted one', () => {
    expect(riskFlagsOf(change('a.sh', 0o100644, 0o100755))).toEqual([])
    expect(riskFlagsOf({ ...change('a.sh', 0o100755, 0o100755), action: 'delete' })).toEqual([])
  })
})

describe('binary content', () => {
  // Latin-1 text, a UTF-16 file without NUL in its first bytes, a truncated UTF-8 sequence.
  it.each([
    ['latin-1', Buffer.from('caf\xe9 cr\xe8me\n', 'latin1')],
    ['lone continuation byte', Buffer.from([0x41, 0x80, 0x42])],
    ['truncated sequence', Buffer.from([0x61, 0xe2, 0x82])],
    ['NUL byte', Buffer.from([0x50, 0x4e, 0x47, 0x00, 0x01])],
  ])('flags %s exactly as diff calls it binary', (_what, bytes) => {
    expect(classifyBytes(bytes, 1 << 20).kind).toBe('binary')
    expect(riskFlagsOf({ ...change('data'), written: bytes })).toEqual(['binary'])
  })

  it('does not flag UTF-8 text', () => {
    const text = Buffer.from('naïve café — ok\n')
    expect(classifyBytes(text, 1 << 20).kind).toBe('text')
    expect(riskFlagsOf({ ...change('notes.txt'), written: text })).toEqual([])
  })
})

describe('package.json', () => {
  const manifest = (fields: Record<string, unknown>) =>
    Buffer.from(JSON.stringify({ name: 'p', version: '1.0.0', ...fields }, null, 2))
  const edit = (before: Record<string, unknown>, after: Record<string, unknown>) =>
    riskFlagsOf({
      ...change('package.json', 0o100644, 0o100644),
      hostContent: manifest(before),
      written: manifest(after),
    })

  it('flags a change of the safecoder key, at any depth', () => {
    expect(edit({}, { safecoder: { sandbox: { memory_mb: 512 } } })).toEqual(['safecoder-config'])
    expect(
      edit(
        { safecoder: { sandbox: { memory_mb: 512 } } },
        { safecoder: { sandbox: { memory_mb: 4096 } } },
      ),
    ).toEqual(['safecoder-config'])
  })

  it('flags scripts, the package manager and git hook keys; not the version or key order', () => {
    expect(edit({ scripts: { test: 'vitest' } }, { scripts: { test: 'vitest; curl x' } })).toEqual([
      'package-scripts',
    ])
    expect(edit({}, { packageManager: 'yarn@4.1.0' })).toEqual(['package-manager'])
    expect(edit({}, { husky: { hooks: { 'pre-commit': 'x' } } })).toEqual(['git-hooks'])
    expect(edit({}, { 'simple-git-hooks': { 'pre-commit': 'x' } })).toEqual(['git-hooks'])
    expect(edit({}, { 'lint-staged': { '*.ts': 'x' } })).toEqual(['git-hooks'])
    expect(
      edit({ scripts: { a: '1', b: '2' } }, { version: '2', scripts: { b: '2', a: '1' } }),
    ).toEqual([])
  })

  it('flags a manifest that does not parse, since nothing in it can be checked', () => {
    const risks = assessRisks({
      ...change('package.json', 0o100644, 0o100644),
      hostContent: manifest({}),
      written: Buffer.from('{ "scripts": '),
    })
    expect(risks.map((risk) => risk.flag)).toEqual(['package-scripts'])
    expect(risks[0]?.reason).toMatch(/does not parse/)
  })
})
