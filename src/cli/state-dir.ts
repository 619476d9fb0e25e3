export { stateDir } from '../shared/state-dir.js'
