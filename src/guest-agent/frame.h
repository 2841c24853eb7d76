/* Byte buffers, CRC-32 and the frame encoder/decoder of the agent protocol. */
#ifndef BANGER_FRAME_H
#define BANGER_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* A growable byte queue: bytes live in data[start..end). */
struct buf {
	uint8_t *data;
	size_t start, end, cap;
};

static inline size_t buf_len(const struct buf *b) { return b->end - b->start; }
/* Makes room for n more bytes at data+end (compacting or growing); 0 or -1 (ENOMEM). */
int buf_reserve(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *p, size_t n);
void buf_consume(struct buf *b, size_t n);
void buf_clear(struct buf *b);
void buf_free(struct buf *b);

uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n);

struct frame {
	uint8_t type, flags;
	uint32_t channel, length;
	const uint8_t *payload; /* valid until the input buffer is next modified */
};

/*
 * Takes the next valid frame off the front of `in`. Returns 1 with *f filled, or 0 when more
 * bytes are needed. Bytes that cannot start a valid frame (no magic, reserved bits set,
 * oversized length, bad CRC) are dropped; non-zero ones are counted in *skipped (zero bytes are
 * padding, see BP_PREAMBLE_SIZE). The scan restarts one byte after a rejected magic, so a real frame hidden behind garbage is always found.
 */
int frame_next(struct buf *in, struct frame *f, size_t *skipped);

/* Appends a whole frame to `out`. 0 or -1 (ENOMEM / payload too big). */
int frame_put(struct buf *out, uint8_t type, uint8_t flags, uint32_t channel, const void *payload,
	      size_t len);
/* Two-step form for payloads read straight into the buffer: frame_begin returns where the
 * payload goes (room for max bytes), frame_commit writes the header for the len used. */
uint8_t *frame_begin(struct buf *out, size_t max);
void frame_commit(struct buf *out, uint8_t type, uint8_t flags, uint32_t channel, size_t len);

#endif
