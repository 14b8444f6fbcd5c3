import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'vendor/', 'bench/results/', 'fixtures/', '.tmp/'] },
  { languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Only the CLI reads the environment (STYLE.md rule 2).
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Only src/cli/ reads process.env' }],
    },
  },
  { files: ['src/cli/**', 'test/**', 'bench/**', 'scripts/**', '*.config.*'], rules: { 'no-restricted-properties': 'off' } },
)
