/**
 * supervisor: keeps a system install's two services running where systemd is not PID 1 (our
 * build machines, containers): bangerd-root as root and bangerd as the owner (setpriv: the
 * owner's uid, gid and groups, no capabilities, no new privileges), each restarted with a
 * backoff when it exits, both restarted in order on SIGHUP (`banger system restart`), both
 * stopped on SIGTERM. Like KillMode=process, it signals only the service's own pid: VMMs and
 * network helpers run in their own sessions and outlive any restart.
 *
 * Must never run a shell, start the daemon as root, or signal anything but its own children.
 * Nothing imports this module (main.ts is an entry point).
 */
export { serviceSpecs, type ServiceSpec } from './service-specs.js';
export { Supervisor, type SupervisorState } from './supervisor.js';
