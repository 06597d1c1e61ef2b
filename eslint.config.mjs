// ESLint for every TypeScript and JavaScript file of the repository (npm run lint; npm test runs it): typescript-eslint's
// recommended rules, and import-x/no-cycle so that no import circle comes back (test/lib-layers.test.ts checks the same
// with madge).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', '.libtorch/**', '.node/**', '.device/**', '.fuzz/**', '.asan/**', '.tmp/**', 'campaign/**', 'runs/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    rules: {
      'import-x/no-cycle': 'error',
      // A CommonJS module's `const crypto = require('crypto')` is its own binding, not Node's global.
      'no-redeclare': ['error', { builtinGlobals: false }],
      // The addon, tsx and lazily loaded packages are required where they are needed.
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // A test passes by its assertions: t.pass() would count a test that checked nothing (a skip is ava's test.skip,
    // through requires() in test/helpers).
    files: ['test/**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', {
        selector: "CallExpression[callee.type='MemberExpression'][callee.property.name='pass']",
        message: 'No t.pass(): assert what the test checks, or register the test with requires()/test.skip and the reason.',
      }],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
  {
    files: ['examples/browser/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser, ort: 'readonly' } },
  },
);
