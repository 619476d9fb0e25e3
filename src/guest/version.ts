/**
 * The agent's build, reported in its hello. Kept equal to package.json's version by a unit test
 * (the agent is copied into images on its own and cannot read package.json).
 */
export const AGENT_VERSION = '0.1.0'
