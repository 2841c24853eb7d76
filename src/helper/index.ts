/**
 * helper: bangerd-root, banger's root helper (main.ts). It owns the closed table of
 * privileged operations (op-table.ts), their validation, the peer-credential check
 * (peer-cred.ts + banger-peercred), race-free access to the owner's files (owner-files.ts)
 * and starting VMMs as the owner (vmm-ops.ts). See docs/privileges.md.
 *
 * Must never run a shell, accept an operation outside its table, act on a request before it
 * is fully validated, follow a symlink in the owner's directories, create a file outside a
 * directory the owner owns, run a VMM as root, or import anything but base, protocol, ipc,
 * network and the pure launch plans (and no npm package). Nothing imports this module.
 */
export { createOpTable, dispatcher, type HelperContext, type OpHandler } from './op-table.js';
export { peerGate, readPeerCred, parsePeerCred, type PeerCred } from './peer-cred.js';
