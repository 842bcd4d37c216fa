/*
 * Fuzz target: command lines split into words (core/reconcile).
 * Invariant: quoting each word again ('...' with '\'' for a quote) and
 * splitting the result gives the same words.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reconcile/reconcile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1), **argv = NULL, **again = NULL;
	struct buf q = BUF_INIT;
	struct err e = ERR_INIT;
	size_t n = 0;

	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (reconcile_words(&argv, line, &e) < 0)
		goto out;
	for (n = 0; argv[n]; n++) {
		buf_puts(&q, n ? " '" : "'");
		for (const char *c = argv[n]; *c; c++)
			buf_puts(&q, *c == '\'' ? "'\\''" : (char[]){ *c, 0 });
		buf_putc(&q, '\'');
	}
	if (!buf_ok(&q) || reconcile_words(&again, q.ptr, &e) < 0)
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if (again[i] == NULL || strcmp(again[i], argv[i]) != 0)
			__builtin_trap();
	if (again[n] != NULL)
		__builtin_trap();
out:
	reconcile_words_free(argv);
	reconcile_words_free(again);
	buf_release(&q);
	free(line);
	return 0;
}
