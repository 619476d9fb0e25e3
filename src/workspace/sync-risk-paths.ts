import { compilePathPattern, foldPath } from './risk-pattern.js'
import type { RiskFlag } from './sync-types.js'

/**
 * One entry of the risky-path list: a file that runs code or steers tools on the user's machine
 * through an everyday action (entering the folder, opening it in an editor, committing,
 * installing, building, testing, pushing), or that Safe Coder reads as configuration. The
 * pattern syntax is risk-pattern.ts's (case-insensitive; `name`, `*.ext`, `folder/`, `a/b`).
 */
export interface RiskyPathRule {
  pattern: string
  flag: RiskFlag
  /** Shown in the sync plan: what runs, and when. */
  reason: string
}

const onOpen = 'IDEs run it when they import the project, and Gradle on every build'
const mise = 'mise runs its hooks and tasks and sets its environment when you enter the folder'
const rustup = 'rustup runs the toolchain it names (a path there runs any program)'
const cargo = 'Cargo reads it: it can set the linker, runners and aliases it runs'
const shell = 'a shell start-up file: runs in every new shell'
const devcontainer = 'Dev Containers runs initializeCommand on your machine and builds its images'

/** Checked in order; the first rule of each flag gives its reason (specific rules come first). */
export const riskyPathRules: readonly RiskyPathRule[] = [
  // Safe Coder's own configuration: config/files.ts projectSearchPlaces (package.json by key).
  ...group('safecoder-config', 'Safe Coder runs it as JavaScript when a session starts here', [
    'safecoder.config.*',
  ]),
  ...group('safecoder-config', "Safe Coder's configuration: sets what the next session may do", [
    '.safecoderrc*',
  ]),
  // git reads these on the user's machine.
  ...group('git-config', 'git runs the filters, diff and merge drivers it names', [
    '.gitattributes',
  ]),
  ...group('git-config', 'git clones what it names on submodule update', ['.gitmodules']),
  ...group('git-config', 'hides files from git status, and so from review', ['.gitignore']),
  ...group('git-config', 'a .git* file: git and git hosts read these', ['.git*']),
  // CI runs with the repository's secrets on the next push.
  ...group('ci-workflow', 'CI runs it on the next push, with the repository secrets', [
    '.github/workflows/',
    '.github/actions/',
    '.gitlab-ci.yml',
    '.circleci/',
    'Jenkinsfile',
    '.travis.yml',
    'azure-pipelines.yml',
    'bitbucket-pipelines.yml',
    '.buildkite/',
  ]),
  ...group('git-hooks', 'husky runs it as a git hook on commit or push', ['.husky/']),
  ...group('git-hooks', 'pre-commit installs and runs the hooks it names on every commit', [
    '.pre-commit-config.yaml',
  ]),
  ...group('git-hooks', 'lefthook runs its commands as git hooks', [
    'lefthook.yml',
    '.lefthook.yml',
  ]),
  ...group('git-hooks', 'lint-staged runs its commands on every commit', [
    '.lintstagedrc*',
    'lint-staged.config.*',
  ]),
  ...group(
    'package-manager',
    'npm reads it on every install: it can set the shell and node options npm runs',
    ['.npmrc'],
  ),
  ...group(
    'package-manager',
    'Yarn reads it: yarnPath, yarn-path and plugins run on every yarn command',
    ['.yarnrc', '.yarnrc.yml'],
  ),
  ...group('package-manager', 'Yarn runs it on every yarn command', [
    '.yarn/releases/',
    '.yarn/plugins/',
  ]),
  ...group('package-manager', 'pnpm runs its hooks on every install', ['.pnpmfile.cjs']),
  ...group('package-manager', 'Bun runs its preload scripts on every bun command', ['bunfig.toml']),
  ...group('toolchain', 'asdf and mise install and run the tool versions it names', [
    '.tool-versions',
  ]),
  ...group('toolchain', mise, ['.mise.toml', 'mise.toml']),
  ...group('toolchain', rustup, ['rust-toolchain.toml', 'rust-toolchain']),
  ...group('toolchain', cargo, ['.cargo/config.toml', '.cargo/config']),
  ...group('build-hooks', 'Python runs it on install and build', ['setup.py', 'setup.cfg']),
  ...group('build-hooks', 'names the build backend pip runs on install', ['pyproject.toml']),
  ...group('build-hooks', 'Cargo runs it on every build, rust-analyzer when the folder opens', [
    'build.rs',
  ]),
  ...group('build-hooks', 'pytest runs it on every test run', ['conftest.py']),
  ...group('build-hooks', 'Bundler, gem and rake run it as Ruby', [
    'Gemfile',
    '*.gemspec',
    'Rakefile',
  ]),
  ...group('build-hooks', onOpen, [
    'build.gradle',
    'build.gradle.kts',
    'settings.gradle',
    'settings.gradle.kts',
  ]),
  ...group('build-hooks', 'gradlew downloads and runs the Gradle it names', [
    'gradle-wrapper.properties',
  ]),
  ...group('build-hooks', 'a task runner (just, Task) runs its commands', [
    'justfile',
    '.justfile',
    'Taskfile.yml',
    'Taskfile.yaml',
  ]),
  ...group('makefile', 'make runs its recipes', ['Makefile', 'GNUmakefile', '*.mk']),
  ...group('shell-rc', 'direnv runs it in your shell when you enter the folder', ['.envrc']),
  ...group('shell-rc', shell, ['.bashrc', '.bash_profile', '.bash_login', '.bash_logout']),
  ...group('shell-rc', shell, ['.profile', '.zshrc', '.zshenv', '.zprofile', '.zlogin']),
  ...group('editor-config', 'VS Code runs its tasks, some as soon as the folder opens', [
    '.vscode/tasks.json',
  ]),
  ...group('editor-config', 'VS Code runs the programs it names (terminal, formatters, linters)', [
    '.vscode/settings.json',
    '*.code-workspace',
  ]),
  ...group('editor-config', 'VS Code runs its commands when you start debugging', [
    '.vscode/launch.json',
  ]),
  ...group('editor-config', devcontainer, ['.devcontainer/', '.devcontainer.json']),
  ...group('editor-config', 'JetBrains IDEs run its run configurations and startup tasks', [
    '.idea/',
  ]),
]

/**
 * Keys of a `package.json` (any folder) whose change is risky, compared by value at any depth.
 * `safecoder` is Safe Coder's own configuration (cosmiconfig's package property).
 */
export const riskyPackageKeys: readonly { key: string; flag: RiskFlag; reason: string }[] = [
  {
    key: 'safecoder',
    flag: 'safecoder-config',
    reason: "package.json#safecoder: Safe Coder's configuration",
  },
  {
    key: 'scripts',
    flag: 'package-scripts',
    reason: 'package.json scripts: npm runs them on install, test and build',
  },
  {
    key: 'packageManager',
    flag: 'package-manager',
    reason: 'package.json packageManager: Corepack downloads and runs it',
  },
  { key: 'husky', flag: 'git-hooks', reason: 'package.json husky: runs as git hooks' },
  {
    key: 'simple-git-hooks',
    flag: 'git-hooks',
    reason: 'package.json simple-git-hooks: runs as git hooks',
  },
  {
    key: 'gitHooks',
    flag: 'git-hooks',
    reason: 'package.json gitHooks: yorkie runs them as git hooks',
  },
  {
    key: 'lint-staged',
    flag: 'git-hooks',
    reason: 'package.json lint-staged: runs on every commit',
  },
  { key: 'pre-commit', flag: 'git-hooks', reason: 'package.json pre-commit: runs on every commit' },
]

function group(flag: RiskFlag, reason: string, patterns: string[]): RiskyPathRule[] {
  return patterns.map((pattern) => ({ pattern, flag, reason }))
}

const compiled = riskyPathRules.map((rule) => ({ rule, matches: compilePathPattern(rule.pattern) }))

/** The rules whose pattern matches a project-relative, `/`-separated path, in list order. */
export function rulesMatching(rel: string): RiskyPathRule[] {
  const segments = foldPath(rel)
  return compiled.filter((entry) => entry.matches(segments)).map((entry) => entry.rule)
}
