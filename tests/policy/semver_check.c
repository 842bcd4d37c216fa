/*
 * semver_check.c - a test driver for the differential test: for every
 * constraint (one per line of CONSTRAINTS) prints what semver-oracle's
 * `check` mode prints for the tags of TAGS (one per line), so that thousands
 * of per-tag answers come from one process instead of one each.
 *
 *   semver_check CONSTRAINTS TAGS
 *   -> "== N" then "error" or "<tag>\t<valid|invalid>\t<match|nomatch>"
 *
 * With --policy JOBS it runs policy_lib over each job of JOBS instead (one
 * JSON object per line: mode semver|alphabetical|numerical, arg, loose,
 * pattern, extract, tags) and prints one line per job: the winning
 * original tag and its value (TAB-separated), "<none>" or "error", so that
 * hundreds of policy runs are compared from one process (ferry itself starts
 * slowly under ASan).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "policy/policy.h"
#include "base/util.h"
#include "policy/semver.h"

static size_t
split_lines(char *s, size_t len, char ***out)
{
	size_t n = 0, cap = 0, i = 0;
	char **v = NULL;

	while (i < len) {
		char *nl = memchr(s + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - s) : len;

		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			v = reallocarray(v, cap, sizeof(*v));
			if (v == NULL)
				abort();
		}
		s[end] = '\0';
		v[n++] = s + i;
		i = end + 1;
	}
	*out = v;
	return n;
}

struct sorted {
	const char *tag;
	struct semver_version v;
};

static int
sorted_cmp(const void *a, const void *b)
{
	const struct sorted *x = a, *y = b;
	int c = semver_version_compare(&x->v, &y->v);

	return c != 0 ? c : strcmp(x->tag, y->tag);
}

static void
sort_tags(char **tags, size_t n)
{
	struct sorted *s = calloc(n + 1, sizeof(*s));
	size_t k = 0;

	if (s == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		if (semver_version_parse(&s[k].v, tags[i], strlen(tags[i]),
		                         SEMVER_FLUX, NULL) == 0)
			s[k++].tag = tags[i];
	qsort(s, k, sizeof(*s), sorted_cmp);
	for (size_t i = 0; i < k; i++)
		printf("%s\n", s[i].tag);
	free(s);
}

static void
run_job(const char *line, size_t len)
{
	struct policy_options o = POLICY_OPTIONS_INIT;
	struct err e = ERR_INIT;
	cJSON *job = NULL, *tags, *t;
	struct policy *p = NULL;
	struct policy_run *r = NULL;
	const char *mode, *arg, *tag, *value;
	size_t tag_len, value_len;

	if (json_parse(&job, line, len, "job", &e) < 0) {
		fprintf(stderr, "semver_check: %s\n", e.msg);
		exit(1);
	}
	mode = json_get_string(job, "mode");
	arg = json_get_string(job, "arg");
	o.pattern = json_get_string(job, "pattern");
	o.extract = json_get_string(job, "extract");
	o.loose = cJSON_IsTrue(cJSON_GetObjectItem(job, "loose"));
	if (strcmp(mode, "semver") == 0) {
		o.kind = POLICY_SEMVER;
		o.semver_range = arg;
	} else {
		o.kind = strcmp(mode, "numerical") == 0 ? POLICY_NUMERICAL
		                                        : POLICY_ALPHABETICAL;
		o.order = strcmp(arg, "desc") == 0 ? POLICY_DESC : POLICY_ASC;
	}
	if (policy_new(&p, &o, &e) < 0) {
		printf("error\n");
		goto out;
	}
	if (policy_run_new(&r, p, NULL, NULL, &e) < 0)
		abort();
	tags = cJSON_GetObjectItem(job, "tags");
	cJSON_ArrayForEach(t, tags)
	{
		if (policy_run_add(r, t->valuestring, strlen(t->valuestring),
		                   false, 0, &e) < 0)
			abort();
	}
	tag = policy_run_result(r, &tag_len, &value, &value_len, NULL);
	if (tag == NULL)
		printf("<none>\n");
	else
		printf("%.*s\t%.*s\n", (int)tag_len, tag, (int)value_len,
		       value);
out:
	policy_run_free(r);
	policy_free(p);
	cJSON_Delete(job);
}

int
main(int argc, char **argv)
{
	struct buf cs = BUF_INIT, ts = BUF_INIT;
	struct err e = ERR_INIT;
	char **cons = NULL, **tags = NULL;
	size_t ncons, ntags;

	if (argc == 3 && strcmp(argv[1], "--policy") == 0) {
		char **jobs = NULL;
		size_t n;

		if (file_read(&cs, argv[2], &e) < 0) {
			fprintf(stderr, "semver_check: %s\n", e.msg);
			return 1;
		}
		n = split_lines(cs.ptr, cs.len, &jobs);
		for (size_t i = 0; i < n; i++)
			if (jobs[i][0] != '\0')
				run_job(jobs[i], strlen(jobs[i]));
		free(jobs);
		buf_release(&cs);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--sort") == 0) {
		char **tags_v = NULL;
		size_t n;

		if (file_read(&ts, argv[2], &e) < 0) {
			fprintf(stderr, "semver_check: %s\n", e.msg);
			return 1;
		}
		n = split_lines(ts.ptr, ts.len, &tags_v);
		if (n > 0 && tags_v[n - 1][0] == '\0')
			n--;
		sort_tags(tags_v, n);
		free(tags_v);
		buf_release(&ts);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: semver_check CONSTRAINTS TAGS\n");
		return 2;
	}
	if (file_read(&cs, argv[1], &e) < 0 ||
	    file_read(&ts, argv[2], &e) < 0) {
		fprintf(stderr, "semver_check: %s\n", e.msg);
		return 1;
	}
	ncons = split_lines(cs.ptr, cs.len, &cons);
	ntags = split_lines(ts.ptr, ts.len, &tags);
	for (size_t i = 0; i < ncons; i++) {
		struct semver_constraint *c = NULL;

		printf("== %zu\n", i);
		if (semver_constraint_new(&c, cons[i], strlen(cons[i]), &e) <
		    0) {
			printf("error\n");
			continue;
		}
		for (size_t j = 0; j < ntags; j++) {
			struct semver_version v;
			bool valid = semver_version_parse(
			                     &v, tags[j], strlen(tags[j]),
			                     SEMVER_FLUX, NULL) == 0;

			printf("%s\t%s\t%s\n", tags[j],
			       valid ? "valid" : "invalid",
			       valid && semver_constraint_check(c, &v)
			               ? "match"
			               : "nomatch");
		}
		semver_constraint_free(c);
	}
	free(cons);
	free(tags);
	buf_release(&cs);
	buf_release(&ts);
	return 0;
}
