/*
 * workload.h - the seeded, self-checking message workload of interop/README.md,
 * in C (the same as Sources/RingWorkload/Workload.swift): message i of seed s
 * has a SplitMix64-drawn size and bytes that depend on (s, i, offset).
 */
#ifndef RING_WORKLOAD_H
#define RING_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t wl_splitmix64(uint64_t x) {
    uint64_t z = x + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

typedef struct wl_workload {
    uint64_t seed;
    size_t min_size;
    size_t max_size;
} wl_workload;

/** Size of message `index`: uniform in min_size..max_size. */
static inline size_t wl_size(const wl_workload *w, uint64_t index) {
    uint64_t span = (uint64_t)(w->max_size - w->min_size + 1);
    return w->min_size + (size_t)(wl_splitmix64(w->seed ^ (index * 0x2545F4914F6CDD1DULL)) % span);
}

/** Byte `offset` of message `index` of `size` bytes; bytes 0..7 carry the index when size >= 8. */
static inline uint8_t wl_byte(const wl_workload *w, uint64_t index, size_t offset, size_t size) {
    if (size >= 8 && offset < 8) return (uint8_t)(index >> (8 * offset));
    return (uint8_t)(index * 131 + (uint64_t)offset * 7 + w->seed);
}

/** Writes message `index` into buf (which has room for wl_size bytes); returns its size. */
static inline size_t wl_fill(const wl_workload *w, uint64_t index, uint8_t *buf) {
    size_t n = wl_size(w, index);
    for (size_t j = 0; j < n; j++) buf[j] = wl_byte(w, index, j, n);
    return n;
}

/** 1 if buf[0..len) is exactly message `index`. */
static inline int wl_matches(const wl_workload *w, uint64_t index, const uint8_t *buf, size_t len) {
    if (len != wl_size(w, index)) return 0;
    for (size_t j = 0; j < len; j++) if (buf[j] != wl_byte(w, index, j, len)) return 0;
    return 1;
}

/** The index carried in the first 8 bytes (little-endian); -1 if shorter. */
static inline int wl_index(const uint8_t *buf, size_t len, uint64_t *index) {
    if (len < 8) return -1;
    uint64_t v = 0;
    for (int b = 7; b >= 0; b--) v = (v << 8) | buf[b];
    *index = v;
    return 0;
}

/** FNV-1a 64 folded over each message: its length (u32 LE) then its bytes. */
typedef struct wl_checksum { uint64_t value; } wl_checksum;

static inline void wl_checksum_init(wl_checksum *c) { c->value = 0xCBF29CE484222325ULL; }

static inline void wl_checksum_add(wl_checksum *c, const uint8_t *buf, size_t len) {
    uint64_t v = c->value;
    uint32_t n = (uint32_t)len;
    for (int b = 0; b < 4; b++) { v = (v ^ ((n >> (8 * b)) & 0xFF)) * 0x100000001B3ULL; }
    for (size_t j = 0; j < len; j++) v = (v ^ buf[j]) * 0x100000001B3ULL;
    c->value = v;
}

#endif /* RING_WORKLOAD_H */
