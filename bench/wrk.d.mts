// Types of bench/wrk.mjs (plain JavaScript, like the load generator that runs it).
export function wrkAvailable(): boolean
export function runWrk(spec: Record<string, unknown>): Promise<Record<string, unknown>>
