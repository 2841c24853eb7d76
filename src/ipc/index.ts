/**
 * ipc: framing, the RPC server and client over unix sockets. Transport only: it knows no
 * method names and holds no business logic. Must never import daemon, cli or helper code.
 */
export * from './frame-codec.js';
export * from './framed-socket.js';
export * from './rpc-server.js';
export * from './rpc-client.js';
