/*
 * err.c - the error value used across ferry.  Formatting only; it never
 * allocates except in err_prefix(), which keeps the old message when
 * memory has run out.
 */
#include "err.h"
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
err_set(struct err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -code;
}

int
err_prefix(struct err *err, const char *fmt, ...)
{
	char prefix[ERR_MSG_MAX];
	char old[ERR_MSG_MAX];
	struct buf b = BUF_INIT;
	va_list ap;

	if (err == NULL)
		return -ERR_INTERNAL;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Built in a buf so that truncation is explicit, not a warning. */
	buf_puts(&b, prefix);
	buf_puts(&b, ": ");
	buf_puts(&b, old);
	if (buf_ok(&b)) {
		size_t n = b.len < ERR_MSG_MAX - 1 ? b.len : ERR_MSG_MAX - 1;
		memcpy(err->msg, b.ptr, n);
		err->msg[n] = '\0';
	}
	buf_release(&b);
	if (err->code == 0)
		err->code = ERR_INTERNAL;
	return -err->code;
}

void
err_clear(struct err *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

const char *
err_code_name(int code)
{
	if (code < 0)
		code = -code;
	switch (code) {
	case ERR_OK:
		return "ok";
	case ERR_NOTFOUND:
		return "not-found";
	case ERR_INVALID:
		return "invalid";
	case ERR_AUTH:
		return "auth";
	case ERR_CONFLICT:
		return "conflict";
	case ERR_TRANSIENT:
		return "transient";
	case ERR_NOMEM:
		return "no-memory";
	default:
		return "internal";
	}
}
