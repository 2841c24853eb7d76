/*
 * Identity of a guest restored from a saved state (docs/agent-protocol.md, "Restore"). Every
 * clone of one saved guest wakes up with the same clock, RNG state, hostname, MAC, address,
 * machine-id and SSH host key; RESTORE gives it its own, and PREPARE_SAVE makes a guest ready
 * to be saved (first-boot work done, filesystems synced).
 */
#ifndef BANGER_RESTORE_H
#define BANGER_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#define RESTORE_MAX_DNS 8

struct restore_request {
	uint32_t flags; /* BP_RESTORE_* */
	int64_t time_ns;
	const uint8_t *entropy;
	size_t entropy_len;
	const char *hostname;
	const char *iface; /* default "eth0" */
	const char *mac;
	const char *address; /* ADDR/PREFIX */
	const char *gateway;
	const char *dns[RESTORE_MAX_DNS];
	int ndns;
	const char *machine_id; /* 32 lowercase hex */
	const char *ssh_private; /* OpenSSH private key file text */
	const char *ssh_public;  /* "TYPE BASE64" */
};

struct restore_options {
	/* Prefix for every file written ("" = the real root); only the test transport sets one. */
	const char *root;
	/* Test transport on a developer's machine: never set the host's clock. */
	int test_transport;
};

#define RESTORE_MESSAGES 2048

struct restore_result {
	uint32_t applied; /* BP_RESTORE_* bits done */
	uint32_t failed;  /* BP_RESTORE_* bits that failed (messages say why) */
	/* NUL-separated failure messages, `nmessages` of them */
	char messages[RESTORE_MESSAGES];
	size_t messages_len;
	int nmessages;
	/* files on the guest's disk changed (machine-id, SSH host key): sync them soon */
	int wrote_files;
};

/* Applies what req->flags asks, in a fixed order: entropy first (everything after it may
 * draw random numbers), then time, hostname, machine-id, network, DNS, SSH host key. */
void restore_apply(const struct restore_request *req, const struct restore_options *opt,
		   struct restore_result *res);

/* Waits up to timeout_ms for first-boot work that must not be cut in two by a save (banger-init
 * making the SSH host key and starting sshd), then syncs. Returns BP_SAVE_* flags. */
uint32_t prepare_save(unsigned timeout_ms);

#endif
