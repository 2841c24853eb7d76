// Layering rules from DESIGN.md, checked by `npm run lint`.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'nothing-imports-entrypoints',
      comment: 'cli, daemon, helper and supervisor are leaves: nothing imports them.',
      severity: 'error',
      from: { pathNot: '^src/(cli|daemon|helper|supervisor)/' },
      to: { path: '^src/(cli|daemon|helper|supervisor)/' },
    },
    {
      name: 'cli-is-thin',
      comment: 'The CLI imports only base, protocol, ipc and config.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: '^src/(cli|base|protocol|ipc|config)/' },
    },
    {
      name: 'helper-is-small',
      comment: 'The root helper imports only base, protocol, ipc, network and pure launch plans.',
      severity: 'error',
      from: { path: '^src/helper/' },
      to: {
        path: '^src/',
        pathNot: '^src/(helper|base|protocol|ipc|network)/|^src/vmm/(qemu|firecracker)/launch-plan',
      },
    },
    {
      name: 'helper-no-npm',
      comment: 'The root helper has no npm runtime dependencies.',
      severity: 'error',
      from: { path: '^src/helper/', pathNot: '\\.test\\.ts$' },
      to: {
        dependencyTypes: [
          'npm',
          'npm-dev',
          'npm-optional',
          'npm-peer',
          'npm-no-pkg',
          'npm-unknown',
        ],
      },
    },
    {
      name: 'base-is-the-bottom',
      severity: 'error',
      from: { path: '^src/base/' },
      to: { path: '^src/', pathNot: '^src/base/' },
    },
    {
      name: 'no-deep-imports',
      comment: 'Other modules are reached through their index.ts only.',
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: {
        path: '^src/([^/]+)/.+',
        pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$', '^src/vmm/(qemu|firecracker)/launch-plan'],
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.test\\.ts$' },
  },
};
