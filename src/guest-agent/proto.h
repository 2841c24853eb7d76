/*
 * banger agent protocol, version 1: the constants of docs/agent-protocol.md.
 * Keep in step with src/protocol/agent-frames.ts (the host side).
 *
 * Frame (all integers little-endian):
 *   0  magic    4 bytes  BA 4E 47 52
 *   4  type     u8
 *   5  flags    u8
 *   6  reserved u16      must be 0
 *   8  channel  u32
 *  12  length   u32      payload bytes, <= BP_MAX_PAYLOAD
 *  16  crc32    u32      CRC-32 (IEEE, as zlib) of bytes 0..15 followed by the payload
 *  20  payload
 */
#ifndef BANGER_PROTO_H
#define BANGER_PROTO_H

#include <stdint.h>

#define BP_MAGIC0 0xBA
#define BP_MAGIC1 0x4E
#define BP_MAGIC2 0x47
#define BP_MAGIC3 0x52
#define BP_HEADER_SIZE 20
#define BP_MAX_PAYLOAD 65536
/* Zero bytes sent before HELLO and before a fresh HELLO_ACK: longer than any frame, so a
 * stale partial frame in front of them is always completed (and fails its CRC) before the
 * real frame starts. */
#define BP_PREAMBLE_SIZE (BP_HEADER_SIZE + BP_MAX_PAYLOAD)
#define BP_PROTOCOL_VERSION 1
#define BP_INITIAL_WINDOW (256 * 1024)
#define BP_MAX_WINDOW 0x7fffffffu
#define BP_NONCE_SIZE 16

enum bp_type {
	BP_HELLO = 0x01,
	BP_HELLO_ACK = 0x02,
	BP_PING = 0x03,
	BP_PONG = 0x04,
	BP_ERROR = 0x05,
	BP_SHUTDOWN = 0x06,
	BP_SHUTDOWN_ACK = 0x07,
	BP_WINDOW = 0x08,
	BP_EXEC = 0x10,
	BP_EXEC_STARTED = 0x11,
	BP_EXEC_FAILED = 0x12,
	BP_EXIT = 0x13,
	BP_CLOSE = 0x14,
	BP_SIGNAL = 0x15,
	BP_RESIZE = 0x16,
	BP_STDIN = 0x20,  /* stream 0 */
	BP_STDOUT = 0x21, /* stream 1 */
	BP_STDERR = 0x22, /* stream 2 */
	/* capability "ports" */
	BP_PORTS_LIST = 0x40,
	BP_PORTS = 0x41,
	BP_PORTS_WATCH = 0x42,
	/* capability "forward": data on STDIN (to the guest) and STDOUT (from it) */
	BP_FORWARD_OPEN = 0x50,
	BP_FORWARD_OPENED = 0x51,
	BP_FORWARD_FAILED = 0x52,
	BP_FORWARD_CLOSED = 0x53,
	/* capability "restore": a guest restored from a saved state gets its own identity */
	BP_RESTORE = 0x60,
	BP_RESTORE_DONE = 0x61,
	BP_PREPARE_SAVE = 0x62,
	BP_SAVE_READY = 0x63,
};

#define BP_FLAG_FIN 0x01

enum bp_stream { BP_STREAM_STDIN = 0, BP_STREAM_STDOUT = 1, BP_STREAM_STDERR = 2 };

#define BP_EXEC_FLAG_TTY 0x01

/* Record tags in EXEC and HELLO_ACK payloads: tag byte, bytes, NUL. */
#define BP_REC_ARG 'A'
#define BP_REC_ENV 'E'
#define BP_REC_CWD 'C'
#define BP_REC_TERM 'T'
#define BP_REC_AGENT_VERSION 'V'
#define BP_REC_BOOT_ID 'B'
#define BP_REC_CAPABILITY 'C'
#define BP_REC_KERNEL 'K'
#define BP_REC_HOSTNAME 'H'
#define BP_REC_ADDRESS 'A' /* FORWARD_OPEN */

/* RESTORE: which parts to apply (u32 flags), and its records. */
#define BP_RESTORE_TIME 0x01
#define BP_RESTORE_ENTROPY 0x02
#define BP_RESTORE_HOSTNAME 0x04
#define BP_RESTORE_MACHINE_ID 0x08
#define BP_RESTORE_NETWORK 0x10 /* MAC, address, default route */
#define BP_RESTORE_DNS 0x20
#define BP_RESTORE_SSH_HOST_KEY 0x40
#define BP_RESTORE_ALL 0x7f
#define BP_RESTORE_HEADER 20 /* u32 id, u32 flags, i64 time_ns, u16 entropy_len, u16 0 */
#define BP_RESTORE_MAX_ENTROPY 1024
#define BP_REC_R_HOSTNAME 'H'
#define BP_REC_R_IFACE 'I'
#define BP_REC_R_MAC 'M'
#define BP_REC_R_ADDRESS 'A'
#define BP_REC_R_GATEWAY 'G'
#define BP_REC_R_DNS 'D'
#define BP_REC_R_MACHINE_ID 'N'
#define BP_REC_R_SSH_PRIVATE 'S'
#define BP_REC_R_SSH_PUBLIC 'P'
#define BP_REC_R_FAILURE 'F' /* RESTORE_DONE */
/* SAVE_READY flags */
#define BP_SAVE_SSHD 0x01    /* no SSH host key was being made */
#define BP_SAVE_TIMEOUT 0x02 /* gave up waiting for first-boot work */

/* PORTS_WATCH interval bounds (ms); 0 stops the watch. */
#define BP_PORTS_WATCH_MIN_MS 100
#define BP_PORTS_WATCH_MAX_MS 60000

enum bp_exec_stage {
	BP_STAGE_REQUEST = 1, /* the request itself is invalid */
	BP_STAGE_CWD = 2,     /* the working directory */
	BP_STAGE_SETUP = 3,   /* pipes, pty, fork: agent resources */
	BP_STAGE_EXEC = 4,    /* execve: command not found, permission... */
};

enum bp_exit_kind { BP_EXIT_EXITED = 0, BP_EXIT_SIGNALED = 1 };

enum bp_shutdown_kind { BP_SHUTDOWN_POWEROFF = 1, BP_SHUTDOWN_REBOOT = 2 };

enum bp_error_code {
	BP_ERR_BAD_FRAME = 1,
	BP_ERR_UNKNOWN_TYPE = 2,
	BP_ERR_UNKNOWN_CHANNEL = 3,
	BP_ERR_CHANNEL_IN_USE = 4,
	BP_ERR_BAD_PAYLOAD = 5,
	BP_ERR_FLOW_CONTROL = 6,
	BP_ERR_NO_SESSION = 7,
	BP_ERR_UNSUPPORTED = 8,
	BP_ERR_INTERNAL = 9,
};

static inline uint16_t bp_get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t bp_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline void bp_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void bp_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

#endif
