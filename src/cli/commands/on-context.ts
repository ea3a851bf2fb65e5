// Running an operator command on an application context of its own, closed however the command ends.
import type { Config } from '../../config/config.ts'
import { createCommandContext, type AppContext } from '../../context.ts'

/** Prints a line of a command's output: stdout, or stderr for an error. */
export type Print = (line: string, error?: boolean) => void

const print: Print = (line, error) => (error ? console.error(line) : console.log(line))

/** The command's exit code; it prints through `print`. */
export async function runOnContext(config: Config, command: (ctx: AppContext, print: Print) => Promise<number>): Promise<number> {
  const ctx = await createCommandContext(config)
  try {
    return await command(ctx, print)
  } finally {
    await ctx.close()
  }
}
