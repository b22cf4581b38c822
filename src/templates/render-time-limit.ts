import type { Context } from 'liquidjs'

/**
 * The time limit of one rendering, counted in CPU time, for liquidjs's `renderLimit` slot.
 *
 * Why not liquidjs's own: it counts wall-clock time from the start of the rendering. On a loaded
 * machine a process the operating system does not run for a second has its rendering refused,
 * and a valid mail is refused with it (seen in CI: a first `format_date` on a 2-core machine
 * busy with databases and a browser). A loop that runs too long spends CPU; a process waiting
 * for a core does not.
 *
 * Cheap: liquidjs checks before each node with `performance.now()`. The CPU clock (a system
 * call) is read only once the wall clock has passed the budget; if less CPU than that was
 * spent, the wall deadline moves on by what is left of the budget. So the limit never fires
 * earlier than liquidjs's would. The CPU clock is the process's (Node 20 has no per-thread
 * one); other threads' work can only make it fire sooner, never later than the CPU budget.
 */
export type RenderTimeLimit = Context['renderLimit']

/** The two clocks the limit reads, in milliseconds; replaceable for tests. */
export interface RenderClocks {
  wall(): number
  cpu(): number
}

const processClocks: RenderClocks = {
  wall: () => performance.now(),
  cpu: () => {
    const { user, system } = process.cpuUsage()
    return (user + system) / 1000
  },
}

/** A limit of `budgetMs` of CPU time, starting now. Share it between the parts of one rendering. */
export function createRenderTimeLimit(
  budgetMs: number,
  clocks: RenderClocks = processClocks,
): RenderTimeLimit {
  const cpuStart = clocks.cpu()
  let wallDeadline = clocks.wall() + budgetMs
  const check = (): void => {
    if (clocks.wall() <= wallDeadline) return
    const cpuLeft = budgetMs - (clocks.cpu() - cpuStart)
    // liquidjs's own wording: the engine's callers recognise the limit by it.
    if (cpuLeft <= 0) throw new Error('template render limit exceeded')
    wallDeadline = clocks.wall() + cpuLeft
  }
  const limit = {
    // liquidjs passes `performance.now()`; the clocks above are read instead.
    check,
    use: check,
  }
  // liquidjs declares Limiter as a class with private fields, so no object literal matches its
  // type; it calls only `check` (and, were it ever to, `use`) on the render limit.
  return limit as unknown as RenderTimeLimit
}
