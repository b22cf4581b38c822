import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'scripts/**', 'test/fixtures/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A worker lives on promises: a forgotten one is a lost delivery or an unhandled rejection.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Store methods are async by contract even where a backend (SQLite) answers synchronously.
      '@typescript-eslint/require-await': 'off',
      // Validation deliberately matches control characters (CR, LF, NUL) to refuse them.
      'no-control-regex': 'off',
    },
  },
  // The benchmarks are plain Node scripts, outside the TypeScript project: no type information.
  { files: ['bench/**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['bench/**/*.mjs'],
    languageOptions: {
      globals: Object.fromEntries(
        ['process', 'console', 'performance', 'Buffer', 'URL', 'setTimeout', 'clearTimeout']
          .concat(['setInterval', 'clearInterval', 'setImmediate'])
          .map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    // The dashboard: plain browser modules, shipped as written (no type information to lint with).
    files: ['src/dashboard/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      globals: globals.browser,
      sourceType: 'module',
      parserOptions: { projectService: false, project: null },
    },
  },
)
