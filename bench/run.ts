import os from 'node:os'
import { execa } from 'execa'
import { VERSION } from '../src/shared/version.js'
import { benchAgent } from './agent.js'
import { benchCliReview } from './cli-review.js'
import { benchCliSync } from './cli-sync.js'
import { benchStartup } from './startup.js'
import { benchCopyIn } from './copy-in.js'
import { benchDriveRecovery } from './drive-recovery.js'
import { benchDisk } from './disk.js'
import { canMountDisks } from '../src/sandbox/disk/index.js'
import { benchNetwork } from './network.js'
import { benchExec, benchSandboxReady } from './exec.js'
import { benchFreeze } from './freeze.js'
import { benchGitCommit } from './git-commit.js'
import { benchGitDiff } from './git-diff.js'
import { benchMicrovm } from './microvm.js'
import { benchSync } from './sync.js'
import { formatResults } from './lib.js'

/**
 * Every benchmark, each against its anchor measured in the same run. `BENCH_RUNS` scales the
 * sample sizes (default 100 exec round trips). Prints a Markdown table for docs/performance.md.
 * The tracking benchmarks generate trees of up to 50,000 files: expect several minutes.
 */
const runs = Number(process.env.BENCH_RUNS ?? 100)
const docker = await execa('docker', ['version', '--format', '{{.Server.Version}}'], {
  reject: false,
})
console.log(
  `Safe Coder ${VERSION}; Node ${process.version}; Docker ${docker.stdout || '?'}; ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}; ${Math.round(os.totalmem() / 2 ** 30)} GiB; ${os.release()}`,
)
const results = [
  ...(await benchStartup({ runs: Math.max(11, Math.round(runs / 5)) })),
  ...(await benchExec({ runs })),
  ...(await benchSandboxReady({ runs: Math.max(5, Math.round(runs / 7)) })),
  ...(await benchCopyIn({ runs: Math.max(7, Math.round(runs / 14)) })),
  // The workspace disk exists only where Safe Coder can mount it (root).
  ...((await canMountDisks()) ? await benchDisk({ runs: Math.max(5, Math.round(runs / 14)) }) : []),
  ...(await benchGitCommit({
    runs: Math.max(3, Math.round(runs / 20)),
    sizes: [1_000, 10_000, 50_000],
  })),
  ...(await benchFreeze({ runs: Math.max(5, Math.round(runs / 7)), sizes: [1_000, 10_000] })),
  ...(await benchGitDiff({ runs: 15 })),
  ...(await benchCliReview({ runs: 9 })),
  ...(await benchSync({ runs: 15 })),
  ...(await benchCliSync({ runs: Math.max(3, Math.round(runs / 20)) })),
  ...(await benchNetwork()),
  ...(await benchAgent({ calls: Math.max(20, Math.round(runs / 2.5)) })),
  ...(await benchMicrovm({ boots: 5, execs: runs })),
  ...(await benchDriveRecovery({ files: 10_000, runs: Math.max(3, Math.round(runs / 20)) })),
]
console.log(formatResults(results))
