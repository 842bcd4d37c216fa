/*
 * utf8.h - UTF-8 decoding and encoding with the rules of Go's unicode/utf8
 * (ferry reproduces Go programs: Flux, Argo CD, text/template), the one copy
 * in ferry.
 *
 * A sequence is valid when it is the shortest encoding of a code point in
 * U+0000..U+10FFFF that is not a surrogate (U+D800..U+DFFF).  Anything else
 * (a stray continuation byte, a truncated or overlong sequence, a
 * surrogate, a lead byte 0xF5..0xFF) decodes as one invalid byte, as Go's
 * utf8.DecodeRune returns (RuneError, 1); so decoding always advances.
 *
 * Thread safety: all functions are reentrant.
 */
#ifndef FERRY_BASE_UTF8_H
#define FERRY_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTF8_INVALID (-1)       /* utf8_decode() of an invalid byte */
#define UTF8_REPLACEMENT 0xFFFD /* U+FFFD, Go's utf8.RuneError */
#define UTF8_MAX_BYTES 4
#define UTF8_MAX_RUNE 0x10FFFF

/*
 * Decodes the code point at s[0..len) (len > 0) and stores its length in
 * *size_out (1-4).  UTF8_INVALID, with *size_out 1, when the bytes there
 * are not a valid sequence.  Callers that want Go's value use
 * UTF8_REPLACEMENT in its place.
 */
int32_t utf8_decode(const char *s, size_t len, size_t *size_out);

/*
 * Writes the encoding of r to out and returns its length (1-4).  An r that
 * is not a code point (negative, a surrogate, past U+10FFFF) is written as
 * U+FFFD, as Go's utf8.EncodeRune does.
 */
size_t utf8_encode(char out[UTF8_MAX_BYTES], int32_t r);

/*
 * Turns libyaml's marks into byte offsets.  libyaml counts characters
 * (one per UTF-8 sequence, after a byte order mark it skips); editors
 * splice bytes.  The cursor walks src from where it last stopped, forward
 * or back, so a pass over a document's marks in order is linear; ASCII
 * text takes no walk at all.  src must outlive the cursor and be the text
 * libyaml read (valid UTF-8).  A cursor is used by one thread at a time.
 */
struct utf8_index {
	const char *src;
	size_t len;
	size_t bom;    /* 3 after a UTF-8 byte order mark, else 0 */
	size_t ci, bi; /* where the walk stands: character and byte */
	bool ascii;
};

void utf8_index_init(struct utf8_index *x, const char *src, size_t len);

/* The byte offset of character index idx (at most len). */
size_t utf8_index_offset(struct utf8_index *x, size_t idx);

#endif
