/*
 * err.h - errors as values.
 *
 * A function that can fail returns int: 0 on success, a negative ERR_* code
 * on failure, and writes a one-line message into a struct err that its caller
 * passed in.  There is no global "last error".
 *
 * Invariants: err->code is 0 and err->msg is "" until err_set() is called;
 * err->msg is always NUL-terminated and truncated to ERR_MSG_MAX - 1 bytes.
 *
 * Thread safety: a struct err belongs to one thread at a time.
 */
#ifndef FERRY_BASE_ERR_H
#define FERRY_BASE_ERR_H

#include <stddef.h>

enum err_code {
	ERR_OK = 0,
	ERR_NOTFOUND = 1,  /* the thing asked for does not exist */
	ERR_INVALID = 2,   /* bad input: configuration, arguments, data */
	ERR_AUTH = 3,      /* credentials missing or refused */
	ERR_CONFLICT = 4,  /* someone else changed it first */
	ERR_TRANSIENT = 5, /* try again later: network, 5xx, timeouts */
	ERR_NOMEM = 6,     /* allocation failed or a limit was reached */
	ERR_INTERNAL = 7,  /* a bug in ferry */
};

#define ERR_MSG_MAX 1024

struct err {
	int code;
	char msg[ERR_MSG_MAX];
};

#define ERR_INIT                                                               \
	{                                                                      \
		0,                                                             \
		{                                                              \
			0                                                      \
		}                                                              \
	}

/*
 * Records code and a printf-formatted message in err (which may be NULL) and
 * returns -code, so that `return err_set(err, ERR_INVALID, "...")` works.
 */
int err_set(struct err *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/*
 * Puts "prefix: " in front of the message already in err, keeping its code.
 * Returns -err->code.  Use it when the caller knows something new (a file
 * name, an object name) that the callee could not.
 */
int err_prefix(struct err *err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Resets err to ERR_INIT. */
void err_clear(struct err *err);

/* A short lower-case name for a code: "invalid", "auth", ... */
const char *err_code_name(int code);

/*
 * ASSERT(cond): a programming error.  Aborts in debug builds; in release
 * builds (NDEBUG) the enclosing function returns ERR_INTERNAL instead.
 */
#ifdef NDEBUG
#define ASSERT(cond)                                                           \
	do {                                                                   \
		if (!(cond))                                                   \
			return -ERR_INTERNAL;                                  \
	} while (0)
#else
#include <assert.h>
#define ASSERT(cond) assert(cond)
#endif

#endif
