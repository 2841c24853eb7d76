// Lint: typescript-eslint strict type-checked, plus banger's founding rule: no shell on the host.
import tseslint from 'typescript-eslint';

const noShell = [
  {
    selector: 'CallExpression[callee.name=/^(exec|execSync|execFile|execFileSync|spawnSync)$/]',
    message:
      'Shell-capable child_process APIs are banned: use run()/spawnChild() from base/process.ts.',
  },
  {
    selector:
      'CallExpression[callee.property.name=/^(exec|execSync|execFileSync|spawnSync)$/][callee.object.name=/^(child_process|cp|childProcess)$/]',
    message:
      'Shell-capable child_process APIs are banned: use run()/spawnChild() from base/process.ts.',
  },
  {
    selector: "Property[key.name='shell'][value.value=true]",
    message: '`shell: true` is banned: build argv yourself.',
  },
];

// `-c` in an argv array means a shell command string on the host. Tests and benchmarks may
// still pass `sh -c` to a *guest* command (it runs inside the VM), so this part covers src/.
const noShellString = {
  selector: "ArrayExpression > Literal[value='-c']",
  message: '`sh -c` command strings are banned: spawn the program with an argv.',
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'build/**',
      'node_modules/**',
      'src/guest-agent/**',
      'eslint.config.js',
      '.dependency-cruiser.cjs',
      'scripts/**/*.mjs',
      // Plain-node test stand-ins (the fake firecracker and jailer), run as programs.
      'test/support/**/*.mjs',
    ],
  },
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      'no-restricted-syntax': ['error', ...noShell],
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'child_process', message: 'Only src/base/process.ts may use child_process.' },
            {
              name: 'node:child_process',
              message: 'Only src/base/process.ts may use child_process.',
            },
          ],
        },
      ],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-confusing-void-expression': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: { 'no-restricted-syntax': ['error', ...noShell, noShellString] },
  },
  {
    // The process wrapper itself, and test/bench harnesses that spawn the real CLI binary.
    files: ['src/base/process.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': 'off',
    },
  },
);
