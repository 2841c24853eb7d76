import type { Command } from 'commander';
import { BangerError } from '../../base/index.js';
import type { CliContext } from '../context.js';
import { progressOptions } from '../context.js';
import { printImage, userlandText, type ImageView } from './image-view.js';

interface PullFlags {
  name?: string;
  kernel?: string;
  username?: string;
  passwordStdin?: boolean;
  oci?: boolean;
  catalog?: boolean;
}

export function registerImagePull(image: Command, ctx: CliContext): void {
  image
    .command('pull')
    .summary('pull an image from the image catalog or an OCI registry')
    .description(
      'Pull NAME from the image catalog when [catalog] images_url lists it; anything else is an\n' +
        'OCI reference (docker.io/library/python:3.12, ghcr.io/org/app@sha256:...), pulled as\n' +
        'linux/amd64. Layers are cached by digest and shared between images; an interrupted\n' +
        'pull resumes. Credentials come from --username/--password-stdin or ~/.docker/config.json.\n' +
        "banger's guest programs are injected, so images without an init or sshd still run commands.",
    )
    .argument('<ref>', 'catalog name or OCI image reference')
    .option('--name <name>', 'name for the image (default: from the reference, e.g. python-3.12)')
    .option('--kernel <name>', "kernel it boots with (default: the catalog entry's, else debian)")
    .option('--username <user>', 'registry user (with --password-stdin)')
    .option('--password-stdin', 'read the registry password or token from stdin')
    .option('--oci', 'treat <ref> as an OCI reference even if the catalog has that name')
    .option('--catalog', 'pull <ref> from the image catalog only')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  banger image pull debian-bookworm                 from the image catalog\n' +
        '  banger image pull docker.io/library/python:3.12\n' +
        '  echo "$TOKEN" | banger image pull --username me --password-stdin ghcr.io/me/app:1\n',
    )
    .action(async (ref: string, flags: PullFlags) => {
      if (flags.oci === true && flags.catalog === true) {
        throw new BangerError('bad_request', '--oci and --catalog exclude each other');
      }
      if ((flags.username === undefined) !== (flags.passwordStdin !== true)) {
        throw new BangerError('bad_request', '--username and --password-stdin go together', {
          hint: 'echo "$PASSWORD" | banger image pull --username USER --password-stdin REF',
        });
      }
      const params: Record<string, unknown> = { ref };
      if (flags.name !== undefined) params.name = flags.name;
      if (flags.kernel !== undefined) params.kernel = flags.kernel;
      if (flags.oci === true) params.from = 'oci';
      if (flags.catalog === true) params.from = 'catalog';
      if (flags.username !== undefined) {
        params.username = flags.username;
        params.password = await readPassword();
      }
      const info = await ctx.client.call<ImageView>(
        'image.pull',
        params,
        progressOptions(ctx, { lines: true }),
      );
      ctx.progress.done();
      printImage(ctx, info);
      const userland = userlandText(info);
      if (userland !== undefined) ctx.stdout.write(`${userland}\n`);
    });
}

/** The whole of stdin, without its trailing newline; refused when empty. */
async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (password === '')
    throw new BangerError('bad_request', '--password-stdin read an empty password');
  return password;
}
