/**
 * Adapts the guest module's AgentClient to the narrow AgentSession view the daemon's
 * services use (ports.ts).
 */
import type { AgentClient } from '../guest/index.js';
import type { AgentSession } from './ports.js';

export function toAgentSession(client: AgentClient): AgentSession {
  return {
    bootId: client.hello.bootId,
    exec: (request) => client.exec(request),
    shutdown: (kind) => client.shutdown(kind),
    openTcp: (port, options) => client.openTcp(port, options),
    listPorts: (options) => client.listPorts(options),
    watchPorts: (listener) => client.watchPorts(listener),
    close: () => client.close(),
    closed: client.closed,
    agentVersion: client.hello.agentVersion,
    capabilities: client.hello.capabilities,
    restore: (request, options) => client.restore(request, options),
    prepareSave: (options) => client.prepareSave(options),
  };
}
