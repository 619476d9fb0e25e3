import { buildImage } from '../../sandbox/images.js'
import { formatBytes, formatDuration } from '../../shared/format.js'
import { println } from '../context.js'
import { loadCommandConfig, withCommonOptions, type CommonOptions } from '../options.js'
import type { RegisterCommand } from './index.js'

/** `safe-coder image build`: the sandbox image, made offline from Debian packages. */
export const registerImage: RegisterCommand = (program, ctx) => {
  const image = program.command('image').description('manage sandbox images')
  withCommonOptions(image.command('build'))
    .description(
      'build the sandbox image offline (debootstrap + import; Debian/Ubuntu host, as root)',
    )
    .option('--busybox', 'build the tiny busybox image used by tests instead')
    .option('-f, --force', 'rebuild even when an up-to-date image exists')
    .option('-t, --tag <tag>', 'image reference to build (default: [docker] image)')
    .action(
      async (options: CommonOptions & { busybox?: boolean; force?: boolean; tag?: string }) => {
        const { config } = await loadCommandConfig(ctx, options)
        const result = await buildImage(
          config,
          {
            flavor: options.busybox === true ? 'busybox' : 'sandbox',
            ...(options.tag === undefined ? {} : { tag: options.tag }),
            force: options.force === true,
            signal: ctx.signal,
            command: 'safe-coder image build',
            onProgress: (step, detail) => {
              println(ctx.stderr, `image: ${step}${detail === undefined ? '' : `: ${detail}`}`)
            },
          },
          ctx.env,
        )
        const how = result.reused
          ? 'up to date (inputs unchanged; --force rebuilds)'
          : `built in ${formatDuration(result.durationMs)}`
        println(
          ctx.stdout,
          `${result.tag} ${how}, ${formatBytes(result.sizeBytes)}, ${result.id.slice(0, 19)}`,
        )
      },
    )
}
