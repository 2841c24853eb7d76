/**
 * The guest-agent protocol as the host sees it: frame layer (agent-wire), payload layouts
 * (agent-payloads, agent-ports) and the Linux numbers they carry (agent-linux). Specification:
 * docs/agent-protocol.md; the guest side is src/guest-agent (C).
 */
export * from './agent-wire.js';
export * from './agent-payloads.js';
export * from './agent-linux.js';
export * from './agent-ports.js';
export * from './agent-restore.js';
