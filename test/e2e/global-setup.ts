/**
 * One banger home for the whole e2e run, with the default kernel and image in it. Tests
 * create their own VMs (unique names) and delete them; teardown removes whatever is left,
 * stops the daemon and deletes the home.
 */
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { BangerHome, CLI } from '../support/banger-home.js';
import { provisionDefaultArtifacts } from '../support/artifacts.js';
import { freeLoopbackPort } from '../support/free-port.js';

declare module 'vitest' {
  export interface ProvidedContext {
    e2eHome: string;
  }
}

let home: BangerHome | undefined;

export async function setup(project: TestProject): Promise<void> {
  if (!existsSync(CLI))
    throw new Error(`e2e tests drive the built CLI; run \`npm run build\` first (${CLI} missing)`);
  if (process.getuid?.() !== 0) throw new Error('e2e tests boot VMs and need root (see README)');
  home = await BangerHome.create('bge-');
  // Its own DNS port: the machine's own banger daemon (README step 1 left one running) holds
  // the default 127.0.0.1:42069, and doctor rightly fails when the DNS server cannot listen.
  await home.writeConfig(
    `[network]\ndns_listen = "127.0.0.1:${String(await freeLoopbackPort())}"\n`,
  );
  await provisionDefaultArtifacts(home);
  project.provide('e2eHome', home.root);
}

export async function teardown(): Promise<void> {
  await home?.destroy();
}
