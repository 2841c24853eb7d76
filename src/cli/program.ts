/** The command tree. Each noun-verb lives in its own file under commands/. */
import { Command } from 'commander';
import type { CliContext } from './context.js';
import { registerCompletion } from './commands/completion.js';
import { registerDaemon } from './commands/daemon.js';
import { registerDoctor } from './commands/doctor.js';
import { registerImageBuild } from './commands/image-build.js';
import { registerImageCachePrune } from './commands/image-cache-prune.js';
import { registerImageDelete } from './commands/image-delete.js';
import { registerImageExport } from './commands/image-export.js';
import { registerImageList } from './commands/image-list.js';
import { registerImagePromote } from './commands/image-promote.js';
import { registerImagePull } from './commands/image-pull.js';
import { registerImageRegister } from './commands/image-register.js';
import { registerImageShow } from './commands/image-show.js';
import { registerImageTemplates } from './commands/image-templates.js';
import { registerImageWarm } from './commands/image-warm.js';
import { registerKernelBuild } from './commands/kernel-build.js';
import { registerKernelExport } from './commands/kernel-export.js';
import { registerKernelImport } from './commands/kernel-import.js';
import { registerKernelList } from './commands/kernel-list.js';
import { registerKernelPull } from './commands/kernel-pull.js';
import { registerKernelRm } from './commands/kernel-rm.js';
import { registerKernelShow } from './commands/kernel-show.js';
import { registerVmCreate } from './commands/vm-create.js';
import { registerVmExec } from './commands/vm-exec.js';
import { registerVmForward } from './commands/vm-forward.js';
import { registerVmLifecycle } from './commands/vm-lifecycle.js';
import { registerVmList } from './commands/vm-list.js';
import { registerVmLogs } from './commands/vm-logs.js';
import { registerVmPorts } from './commands/vm-ports.js';
import { registerVmPause } from './commands/vm-pause.js';
import { registerVmSnapshot } from './commands/vm-snapshot.js';
import { registerSnapshotDelete } from './commands/snapshot-delete.js';
import { registerSnapshotList } from './commands/snapshot-list.js';
import { registerVmPrune } from './commands/vm-prune.js';
import { registerVmSet } from './commands/vm-set.js';
import { registerVmStats } from './commands/vm-stats.js';
import { registerVmRun } from './commands/vm-run.js';
import { registerVmShow } from './commands/vm-show.js';
import { registerVmWorkspace } from './commands/vm-workspace.js';
import { registerVmSsh } from './commands/vm-ssh.js';
import { registerSshConfig } from './commands/ssh-config.js';
import { registerSshProxy } from './commands/ssh-proxy.js';
import { registerSystem } from './commands/system.js';
import { bangerVersion } from '../config/index.js';

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('banger')
    .description('One-command development sandboxes on microVMs.')
    .version(bangerVersion(), '-V, --version', 'print the version')
    .showSuggestionAfterError()
    // Before any subcommand is added, so they all inherit it: errors reach main(), not exit().
    .exitOverride()
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  banger vm run --rm -- cat /etc/os-release    boot a VM, run a command, throw the VM away\n' +
        '  banger kernel pull debian                    prepare the default kernel\n' +
        '  banger image build debian-bookworm           build the default image\n',
    );
  program.configureOutput({ writeErr: (text) => ctx.stderr.write(text) });

  program
    .command('version')
    .summary('print the version')
    .action(() => {
      ctx.stdout.write(`banger ${bangerVersion()}\n`);
    });

  const vm = program.command('vm').summary('create, run and manage VMs');
  vm.addHelpText('after', '\nExamples:\n  banger vm run --rm -- make test\n');
  registerVmRun(vm, ctx);
  registerVmCreate(vm, ctx);
  registerVmLifecycle(vm, ctx);
  registerVmExec(vm, ctx);
  registerVmWorkspace(vm, ctx);
  registerVmList(vm, program, ctx);
  registerVmShow(vm, ctx);
  registerVmLogs(vm, ctx);
  registerVmPrune(vm, ctx);
  registerVmSet(vm, ctx);
  registerVmStats(vm, ctx);
  registerVmSsh(vm, ctx);
  registerVmForward(vm, ctx);
  registerVmPorts(vm, ctx);
  registerVmPause(vm, ctx);
  registerVmSnapshot(vm, ctx);

  const kernel = program.command('kernel').summary('manage kernels');
  registerKernelPull(kernel, ctx);
  registerKernelList(kernel, ctx);
  registerKernelShow(kernel, ctx);
  registerKernelRm(kernel, ctx);
  registerKernelImport(kernel, ctx);
  registerKernelExport(kernel, ctx);
  registerKernelBuild(kernel, ctx);

  const image = program.command('image').summary('manage root filesystem images');
  registerImageBuild(image, ctx);
  registerImageList(image, ctx);
  registerImageShow(image, ctx);
  registerImageDelete(image, ctx);
  registerImageRegister(image, ctx);
  registerImagePull(image, ctx);
  registerImageExport(image, ctx);
  registerImagePromote(image, ctx);
  registerImageCachePrune(image, ctx);
  registerImageWarm(image, ctx);
  registerImageTemplates(image, ctx);

  const snapshot = program.command('snapshot').summary('manage snapshots of running VMs');
  registerSnapshotList(snapshot, ctx);
  registerSnapshotDelete(snapshot, ctx);

  registerDaemon(program, ctx);
  registerDoctor(program, ctx);
  registerCompletion(program, ctx);
  registerSshConfig(program, ctx);
  registerSshProxy(program, ctx);
  registerSystem(program, ctx);

  return program;
}
