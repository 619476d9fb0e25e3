import { buildImage, buildVmImage } from '../../sandbox/images.js'
import { SafeCoderError } from '../../shared/errors.js'
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
    .option(
      '--vm',
      'build the microVM guest image (kernel, initramfs, root filesystem) from the sandbox image',
    )
    .option('-f, --force', 'rebuild even when an up-to-date image exists')
    .option('-t, --tag <tag>', 'image reference to build (default: [docker] image)')
    .action(
      async (
        options: CommonOptions & { busybox?: boolean; vm?: boolean; force?: boolean; tag?: string },
      ) => {
        const { config } = await loadCommandConfig(ctx, options)
        const onProgress = (step: string, detail?: string): void => {
          println(ctx.stderr, `image: ${step}${detail === undefined ? '' : `: ${detail}`}`)
        }
        if (options.vm === true) {
          if (options.busybox === true)
            throw new SafeCoderError('USAGE', '--vm and --busybox cannot be combined.', {
              hint: 'The guest image is made from the Debian sandbox image; drop --busybox.',
            })
          const image = await buildVmImage(
            config,
            {
              ...(options.tag === undefined ? {} : { tag: options.tag }),
              force: options.force === true,
              signal: ctx.signal,
              command: 'safe-coder image build --vm',
              onProgress,
            },
            ctx.env,
          )
          const sizes = image.manifest.sizes
          const total = sizes.kernel + sizes.initrd + sizes.rootfs
          const how = image.reused
            ? 'up to date (inputs unchanged; --force rebuilds)'
            : `built in ${formatDuration(image.durationMs)}`
          println(
            ctx.stdout,
            `guest image ${image.dir} ${how}: kernel ${image.kernelRelease}, ${formatBytes(total)} (rootfs ${formatBytes(sizes.rootfs)})`,
          )
          return
        }
        const result = await buildImage(
          config,
          {
            flavor: options.busybox === true ? 'busybox' : 'sandbox',
            ...(options.tag === undefined ? {} : { tag: options.tag }),
            force: options.force === true,
            signal: ctx.signal,
            command: 'safe-coder image build',
            onProgress,
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
