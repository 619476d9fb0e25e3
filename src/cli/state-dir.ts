export { openStateDir, stateDir } from '../shared/state-dir.js'
