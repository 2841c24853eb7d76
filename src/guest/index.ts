/**
 * guest: the host side of the guest-agent protocol (docs/agent-protocol.md).
 *
 *   const agent = await AgentClient.connect(stream, { timeoutMs: 30_000 });
 *   agent.hello.bootId;                       // what the agent said in its HELLO_ACK
 *   const run = await agent.exec({ argv: ['make', 'test'], cwd: '/root/repo' });
 *   run.stdout.pipe(process.stdout);          // unread output pauses the guest process
 *   run.stdin.end();                          // EOF for the process
 *   const status = await run.exit;            // { kind: 'exited', code } | { kind: 'signaled', ... }
 *   const tcp = await agent.openTcp(22);      // Duplex to 127.0.0.1:22 in the guest
 *   await agent.listPorts();                  // [{ family, address, port, pid?, process? }]
 *   const stop = agent.watchPorts((ports) => ...); // now and on every change
 *   await agent.ping();                       // rtt in ms
 *   await agent.shutdown('poweroff');         // synced, init told to power off
 *   agent.close();                            // or: await agent.closed (the VMM died)
 *
 * exec() rejects with a BangerError: 'not_found' (command or cwd missing), 'precondition_failed'
 * (permission), 'bad_request' (invalid request), 'unavailable' (connection lost). When the
 * connection ends, every running session's `exit` rejects with 'unavailable'.
 *
 * SSH: ensureInstallKey() (the install's ed25519 key, made once with ssh-keygen), KnownHosts
 * (banger's own known_hosts, trust on first use), parseSshPublicKey/sshFingerprint,
 * generateSshHostKey() (a restored guest's own host key, made and pinned by the host).
 *
 * Restore (capability `restore`): agent.restore({ timeNs, entropy, hostname, machineId,
 * network, dns, sshHostKey }) gives a guest restored from a saved state its own identity;
 * agent.prepareSave() lets first-boot work finish and syncs before a guest is saved.
 *
 * Owns: the handshake, channel ids, credit-based flow control, validation of every frame from
 * the guest (untrusted), banger's SSH key and known_hosts. Must never: trust a guest byte
 * without checking it, buffer more than one window per stream, reach the guest any other way
 * than the Duplex it was given, or touch the user's own ~/.ssh.
 */
export {
  AgentClient,
  type AgentConnectOptions,
  type AgentHello,
  type OpenTcpOptions,
} from './agent-client.js';
export type { ExecSession, ExitStatus } from './exec-session.js';
export type { ExecRequest, ExecTty } from './exec-request.js';
export { ensureInstallKey, type InstallKey } from './ssh-install-key.js';
export { KnownHosts, type HostKeyCheck } from './known-hosts.js';
export { parseSshPublicKey, sameKey, sshFingerprint, type SshPublicKey } from './ssh-public-key.js';
export { generateSshHostKey, type SshHostKey } from './ssh-host-key.js';
