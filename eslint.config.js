// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/** Third-party adapters, each confined to one folder (DESIGN.md §2). */
const adapters = {
  dockerode: 'sandbox/docker',
  cosmiconfig: 'config',
  'isomorphic-git': 'git',
  blessed: 'tui',
  ai: 'agent/provider',
}

/**
 * Layering rules of DESIGN.md §2: each folder may only import what sits below it, and only the
 * adapter folder may import its third-party library.
 */
const layer = (
  /** @type {string} */ folder,
  /** @type {string[]} */ forbidden,
  /** @type {string} */ why,
) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        paths: Object.entries(adapters)
          .filter(([, home]) => !`${folder}/`.startsWith(`${home}/`))
          .map(([name, home]) => ({ name, message: `${name} is imported only in src/${home}.` })),
        patterns: [
          ...forbidden.map((f) => ({ group: [`**/${f}/*`, `**/${f}`], message: why })),
          ...(folder.startsWith('agent/provider')
            ? []
            : [
                {
                  group: ['@ai-sdk/*'],
                  message: 'AI SDK providers are imported only in src/agent/provider.',
                },
              ]),
        ],
      },
    ],
  },
})

const engines =
  'Engines take parameters and report through callbacks; they never import bus, session, tui or cli.'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.bench/**', '.scratch/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-unnecessary-condition': [
        'error',
        { allowConstantLoopConditions: true },
      ],
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  layer(
    'shared',
    ['bus', 'config', 'session', 'agent', 'sandbox', 'workspace', 'git', 'tui', 'cli'],
    'shared/ is a leaf: it imports nothing internal.',
  ),
  layer(
    'bus',
    ['config', 'session', 'agent', 'sandbox', 'workspace', 'git', 'tui', 'cli'],
    'bus/ has no runtime dependencies on other layers.',
  ),
  layer(
    'config',
    ['bus', 'session', 'agent', 'sandbox', 'workspace', 'git', 'tui', 'cli'],
    'config/ only reads configuration.',
  ),
  layer(
    'network',
    ['bus', 'config', 'session', 'agent', 'sandbox', 'workspace', 'git', 'tui', 'cli'],
    'network/ (the egress proxy and its policy) runs inside a sidecar container: it imports only shared/.',
  ),
  layer('sandbox', ['bus', 'session', 'tui', 'cli', 'agent', 'git'], engines),
  layer('sandbox/docker', ['bus', 'session', 'tui', 'cli', 'agent', 'git'], engines),
  layer('workspace', ['bus', 'session', 'tui', 'cli', 'agent'], engines),
  layer('git', ['bus', 'session', 'tui', 'cli', 'agent', 'sandbox'], engines),
  layer('agent', ['bus', 'session', 'tui', 'cli'], engines),
  layer('agent/provider', ['bus', 'session', 'tui', 'cli'], engines),
  {
    // The guest agent is copied on its own into containers and VM images: Node's builtins only.
    files: ['src/guest/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!node:|\\./)',
              message:
                'src/guest runs inside sandboxes without node_modules or the rest of dist/: import only node:* and ./ files.',
            },
          ],
        },
      ],
    },
  },
  layer('cli', [], ''),
  layer(
    'session',
    ['tui', 'cli'],
    'session/ turns engine results into bus events; it never reaches into tui or cli.',
  ),
  layer(
    'tui',
    ['sandbox', 'agent', 'git', 'workspace', 'cli'],
    'tui/ sees bus events and a SessionClient only.',
  ),
)
