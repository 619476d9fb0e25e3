// `npm run gauntlet [-- --quick] [-- --backend docker,qemu]`: the gauntlet suite and its
// scorecard. The runner lives in test/gauntlet/runner.ts (type-checked and linted with the tests).
import { main } from '../test/gauntlet/runner.js'

process.exitCode = await main(process.argv.slice(2))
