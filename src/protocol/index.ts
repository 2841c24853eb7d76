/**
 * protocol: wire contracts and their runtime validators: daemon RPC, root-helper operations,
 * VMM launch specs, guest-agent frames, error codes.
 * Must stay pure (no I/O) and free of npm runtime dependencies: the root helper imports it.
 */
export * from './vm-launch.js';
export * from './privileged-ops.js';
export * from './network-ops.js';
export * from './rpc-messages.js';
export * from './validate.js';
export * from './names.js';
export * from './rpc-params.js';
export * from './agent-frames.js';
export * from './doctor.js';
export * from './workspace-params.js';
export * from './warm-params.js';
export * from './vm-access.js';
export * from './install-record.js';
export * from './helper-wire.js';
