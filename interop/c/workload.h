/*
 * workload.h - the seeded, self-checking message workload of interop/README.md,
 * in C (the same as Sources/RingWorkload/Workload.swift): message i of seed s
 * has a SplitMix64-drawn size and bytes that depend on (s, i, offset).
 */
#ifndef RING_WORKLOAD_H
#define RING_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/*
 * The items of produce-items / consume-items (interop/run_typed_matrix.py; the same as
 * ItemWorkload in Sources/RingWorkloadTool/main.swift and interop/python/ring_peer.py): the
 * struct WL_ITEM_TYPE, whose item of stream number seq (0, 1, ...) holds seq (u64 LE),
 * seq * 0.5 + 0.25 (f64 LE), (seq * 0x9E3779B1) mod 2^32 (u32 big-endian) and four zero bytes.
 */
#define WL_ITEM_TYPE "{seq:<u8@0,value:<f8@8,tag:>u4@16,pad:|V4@20}24"
#define WL_ITEM_SIZE 24

static inline uint32_t wl_item_tag(uint64_t seq) { return (uint32_t)(seq * 0x9E3779B1ULL); }

static inline uint64_t wl_item_value_bits(uint64_t seq) {
    double value = (double)seq * 0.5 + 0.25;
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

/** Writes item seq into item[0..WL_ITEM_SIZE). */
static inline void wl_item_fill(uint64_t seq, uint8_t *item) {
    uint64_t bits = wl_item_value_bits(seq);
    uint32_t tag = wl_item_tag(seq);
    for (int b = 0; b < 8; b++) { item[b] = (uint8_t)(seq >> (8 * b)); item[8 + b] = (uint8_t)(bits >> (8 * b)); }
    for (int b = 0; b < 4; b++) { item[16 + b] = (uint8_t)(tag >> (8 * (3 - b))); item[20 + b] = 0; }
}

/** 0 and *seq set if item[0..WL_ITEM_SIZE) is exactly the item of its seq field, else -1. */
static inline int wl_item_check(const uint8_t *item, uint64_t *seq) {
    uint64_t s = 0;
    for (int b = 7; b >= 0; b--) s = (s << 8) | item[b];
    uint8_t want[WL_ITEM_SIZE];
    wl_item_fill(s, want);
    if (memcmp(item, want, WL_ITEM_SIZE)) return -1;
    *seq = s;
    return 0;
}

/** CRC-32 (zlib's, as Python's zlib.crc32) of a stream fed in pieces: start at 0, then crc = wl_crc32(crc, ...). */
static inline uint32_t wl_crc32(uint32_t crc, const uint8_t *buf, size_t len) {
    static uint32_t table[256];
    if (!table[1]) {
        for (uint32_t n = 0; n < 256; n++) {
            uint32_t c = n;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
    }
    crc = ~crc;
    for (size_t j = 0; j < len; j++) crc = table[(crc ^ buf[j]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

#endif /* RING_WORKLOAD_H */
