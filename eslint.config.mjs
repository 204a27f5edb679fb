// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

/**
 * Orchestrations are replayed many times by Durable Functions, so they must do exactly the same thing on every
 * replay: no clock, no randomness, no environment, no I/O and no async code. Time comes from
 * context.df.currentUtcDateTime and everything else from activities.
 */
export const deterministicRules = {
  'no-restricted-imports': [
    'error',
    {
      paths: builtinModules.map((name) => ({ name, message: 'Orchestrations must not do I/O: call an activity.' })),
      patterns: [
        { group: ['node:*'], message: 'Orchestrations must not use Node built-ins: call an activity.' },
        { group: ['@azure/*', '!@azure/functions'], message: 'Orchestrations must not call Azure: call an activity.' },
        { group: ['**/local/**'], message: 'Production code must not import the local runtime.' },
      ],
    },
  ],
  'no-restricted-globals': [
    'error',
    { name: 'process', message: 'Read configuration in an activity or pass it as input.' },
    { name: 'setTimeout', message: 'Use context.df.createTimer.' },
    { name: 'setInterval', message: 'Use context.df.createTimer.' },
    { name: 'setImmediate', message: 'Orchestrations must not schedule work outside the framework.' },
    { name: 'fetch', message: 'Orchestrations must not do I/O: call an activity.' },
    { name: 'crypto', message: 'Randomness breaks replay: use context.df.newGuid.' },
    { name: 'performance', message: 'Clocks break replay: use context.df.currentUtcDateTime.' },
  ],
  'no-restricted-syntax': [
    'error',
    {
      selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
      message: 'Date.now() breaks replay: use context.df.currentUtcDateTime.',
    },
    {
      selector: "NewExpression[callee.name='Date'][arguments.length=0]",
      message: 'new Date() breaks replay: use context.df.currentUtcDateTime.',
    },
    {
      selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
      message: 'Math.random() breaks replay: use context.df.newGuid or an activity.',
    },
    { selector: ':function[async=true]', message: 'Orchestrations are generators: async code breaks replay.' },
    { selector: 'AwaitExpression', message: 'Orchestrations yield tasks; they never await.' },
  ],
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.data/**',
      '.tools/**',
      'coverage/**',
      '.deploy/**',
      '.azure/**',
      '.browser/**',
      'test-results/**',
      'test/fixtures/lint/**',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['functions/**/*.ts', 'orchestrations/**/*.ts', 'lib/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/local/**'], message: 'Production code must not import the local runtime.' }] },
      ],
    },
  },
  { files: ['orchestrations/**/*.ts'], rules: deterministicRules },
  {
    files: ['bin/**/*.js', 'test/fixtures/**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'readonly', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
