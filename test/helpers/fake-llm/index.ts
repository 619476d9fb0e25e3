export * from './server.js'
export * from './sse.js'
export * from './anthropic.js'
export * from './chat-completions.js'
