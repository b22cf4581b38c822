/**
 * The template engine (LiquidJS, html-to-text, juice: a fifth of a second to load), loaded on
 * the first use of a template, so that `import 'outbox'`, `outbox sendmail` and mail without
 * templates never pay for it.
 */
let engine: Promise<typeof import('./template-engine.js')> | null = null

export function loadTemplateEngine(): Promise<typeof import('./template-engine.js')> {
  return (engine ??= import('./template-engine.js'))
}

/** Reading template folders (it checks every file with the engine). */
export function loadTemplateFolder(): Promise<typeof import('./template-folder.js')> {
  return import('./template-folder.js')
}
