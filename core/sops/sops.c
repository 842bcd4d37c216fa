/*
 * sops.c - SOPS files: the metadata, the data key (age.c, pgp.c), the
 * values (AES-256-GCM with the path as additional data), the MAC, and
 * the plaintext spliced into the original bytes.
 *
 * The walk follows sops' own (sops.go, stores/yaml): mapping keys make
 * the path, list indexes do not; a null is not a value; every other
 * scalar is one, its bytes as Go's yaml.v3 decodes it (an unquoted 1_000
 * counts as "1000", true as "True"), and the MAC is the upper-case hex
 * SHA-512 of them all in document order.
 *
 * AES-256-GCM is libcrypto's: sops' IVs are 32 bytes, and libsodium's
 * AES-GCM takes 12-byte nonces only (and needs AES-NI).
 *
 * Not done: aliases (sops writes none; walking them could cost
 * exponential time), Shamir key groups, cloud KMS recipients.
 */
#include "sops_int.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/regex.h"
#include "base/rfc3339.h"
#include "base/utf8.h"
#include "base/util.h"

#define SOPS_DATA_KEY 32
#define SOPS_MAX_DOCS 10000
#define SOPS_MAX_RECIPIENTS 256
#define SOPS_DEFAULT_UNENCRYPTED_SUFFIX "_unencrypted"

/* ---- the parsed file ---- */

struct recipient {
	const char *id;  /* age1... or a PGP fingerprint; NUL-terminated */
	const char *enc; /* the wrapped data key */
	size_t enc_len;
};

enum rule {
	RULE_UNENCRYPTED_SUFFIX,
	RULE_ENCRYPTED_SUFFIX,
	RULE_UNENCRYPTED_REGEX,
	RULE_ENCRYPTED_REGEX,
	RULE_UNENCRYPTED_COMMENT_REGEX,
	RULE_ENCRYPTED_COMMENT_REGEX,
};

/* A node's position, for matching a comment to the branch it is in. */
struct spot {
	size_t start; /* byte index of a mapping key or list item */
	size_t end;   /* of a mapping or list; 0 for a key or an item */
	size_t line, column;
	size_t path; /* offset into paths of its container's AAD (a key,
	              * an item), or of its own (a mapping, a list) */
};

struct edit {
	size_t start, end;
	size_t text, text_len; /* offset into texts */
	bool removal;          /* the metadata: keep its newlines */
};

struct file {
	const char *name;
	const char *src;
	size_t len;
	yaml_document_t *d;
	size_t nd;
	yaml_node_t *meta; /* the first document's "sops" mapping */
	const char *lastmodified;
	const char *mac;
	enum rule rule;
	const char *rule_value;
	struct regex *rule_re;
	struct regex_match *rule_m;
	bool mac_only_encrypted;
	struct recipient age[SOPS_MAX_RECIPIENTS], pgp[SOPS_MAX_RECIPIENTS];
	size_t nage, npgp;
	struct buf others; /* "AWS KMS, Vault", for messages */
	unsigned char key[SOPS_DATA_KEY];
	crypto_hash_sha512_state mac_state;
	struct edit *edits;
	size_t nedits, cap_edits;
	struct buf texts; /* replacement bytes (plaintext: wiped) */
	struct spot *spots;
	size_t nspots, cap_spots;
	struct buf paths; /* NUL-separated AAD strings of the spots */
	struct buf path;  /* the walk's current path, "a:b:" */
	/* where each key of path starts, and its length */
	size_t key_at[SOPS_MAX_DEPTH + 1], key_len[SOPS_MAX_DEPTH + 1];
	size_t nkeys;
	/* libyaml's marks count characters (after a BOM), not bytes: the
	 * cursor that turns one into the other (off_of) */
	struct utf8_index ix;
};

/* The byte offset of libyaml's character index idx. */
static size_t
off_of(struct file *f, size_t idx)
{
	return utf8_index_offset(&f->ix, idx);
}

static const char *
yscalar(const yaml_node_t *n, size_t *len)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	if (len)
		*len = n->data.scalar.length;
	return (const char *)n->data.scalar.value;
}

static yaml_node_t *
ymap_get(yaml_document_t *doc, const yaml_node_t *map, const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		size_t kl;
		const char *ks = yscalar(k, &kl);

		if (ks && kl == strlen(key) && memcmp(ks, key, kl) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

/* ---- YAML: limits, then the documents ---- */

/* Nesting, node count and aliases, checked on the events before libyaml
 * builds a document (it has no limits of its own). */
static int
prescan(const char *name, const char *data, size_t len, struct err *err)
{
	yaml_parser_t parser;
	size_t depth = 0, nodes = 0;
	int rc = 0;

	if (!yaml_parser_initialize(&parser))
		return err_set(err, ERR_NOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	for (;;) {
		yaml_event_t ev;
		bool end;

		if (!yaml_parser_parse(&parser, &ev))
			break; /* the load reports it */
		end = ev.type == YAML_STREAM_END_EVENT;
		if (ev.type == YAML_ALIAS_EVENT)
			rc = err_set(
			        err, ERR_INVALID,
			        "%s:%zu:%zu: a YAML alias; a SOPS file has "
			        "none (sops writes every value out)",
			        name, ev.start_mark.line + 1,
			        ev.start_mark.column + 1);
		if (ev.type == YAML_MAPPING_START_EVENT ||
		    ev.type == YAML_SEQUENCE_START_EVENT) {
			if (++depth > SOPS_MAX_DEPTH)
				rc = err_set(
				        err, ERR_INVALID,
				        "%s:%zu:%zu: nested deeper than %d",
				        name, ev.start_mark.line + 1,
				        ev.start_mark.column + 1,
				        SOPS_MAX_DEPTH);
		} else if (ev.type == YAML_MAPPING_END_EVENT ||
		           ev.type == YAML_SEQUENCE_END_EVENT) {
			depth--;
		}
		if (++nodes > SOPS_MAX_NODES && rc == 0)
			rc = err_set(err, ERR_INVALID,
			             "%s: more than %d YAML "
			             "nodes",
			             name, SOPS_MAX_NODES);
		yaml_event_delete(&ev);
		if (end || rc < 0)
			break;
	}
	yaml_parser_delete(&parser);
	return rc;
}

static int
load(struct file *f, struct err *err)
{
	yaml_parser_t parser;
	size_t cap = 0;
	int rc;

	if ((rc = prescan(f->name, f->src, f->len, err)) < 0)
		return rc;
	if (!yaml_parser_initialize(&parser))
		return err_set(err, ERR_NOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)f->src,
	                             f->len);
	for (;;) {
		yaml_document_t doc;

		if (!yaml_parser_load(&parser, &doc)) {
			rc = err_set(err, ERR_INVALID,
			             "%s:%zu:%zu: YAML syntax error: %s",
			             f->name, parser.problem_mark.line + 1,
			             parser.problem_mark.column + 1,
			             parser.problem ? parser.problem
			                            : "unknown");
			break;
		}
		if (yaml_document_get_root_node(&doc) == NULL) {
			yaml_document_delete(&doc);
			break;
		}
		if (f->nd == SOPS_MAX_DOCS) {
			yaml_document_delete(&doc);
			rc = err_set(err, ERR_INVALID,
			             "%s: more than %d documents", f->name,
			             SOPS_MAX_DOCS);
			break;
		}
		if (f->nd == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			yaml_document_t *v =
			        reallocarray(f->d, ncap, sizeof(*v));

			if (v == NULL) {
				yaml_document_delete(&doc);
				rc = err_set(err, ERR_NOMEM, "out of memory");
				break;
			}
			f->d = v;
			cap = ncap;
		}
		f->d[f->nd++] = doc;
	}
	yaml_parser_delete(&parser);
	return rc;
}

/* ---- the metadata ---- */

static int
recipients(struct file *f, yaml_document_t *doc, const yaml_node_t *list,
           bool age, struct err *err)
{
	if (list == NULL)
		return 0;
	if (list->type == YAML_SCALAR_NODE && list->data.scalar.length == 0)
		return 0; /* "age:" with nothing */
	if (list->type != YAML_SEQUENCE_NODE)
		return err_set(err, ERR_INVALID, "%s: sops.%s is not a list",
		               f->name, age ? "age" : "pgp");
	for (yaml_node_item_t *i = list->data.sequence.items.start;
	     i < list->data.sequence.items.top; i++) {
		yaml_node_t *e = yaml_document_get_node(doc, *i);
		struct recipient *r;
		size_t n = age ? f->nage : f->npgp;

		if (n == SOPS_MAX_RECIPIENTS)
			return err_set(err, ERR_INVALID,
			               "%s: more than %d recipients", f->name,
			               SOPS_MAX_RECIPIENTS);
		r = age ? &f->age[f->nage] : &f->pgp[f->npgp];
		r->id = yscalar(ymap_get(doc, e, age ? "recipient" : "fp"),
		                NULL);
		r->enc = yscalar(ymap_get(doc, e, "enc"), &r->enc_len);
		if (r->enc == NULL || r->id == NULL)
			return err_set(
			        err, ERR_INVALID,
			        "%s: sops.%s[%zu] lacks %s or enc", f->name,
			        age ? "age" : "pgp",
			        (size_t)(i - list->data.sequence.items.start),
			        age ? "recipient" : "fp");
		if (age)
			f->nage++;
		else
			f->npgp++;
	}
	return 0;
}

/* Keys sops has but ferry does not use, named for messages. */
static void
note_others(struct file *f, yaml_document_t *doc, const yaml_node_t *m)
{
	static const char *const kinds[][2] = {
		{ "kms", "AWS KMS" },
		{ "gcp_kms", "GCP KMS" },
		{ "azure_kv", "Azure Key Vault" },
		{ "hc_vault", "Vault" },
		{ "hckms", "HuaweiCloud KMS" },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		yaml_node_t *n = ymap_get(doc, m, kinds[i][0]);

		if (n && n->type == YAML_SEQUENCE_NODE &&
		    n->data.sequence.items.top > n->data.sequence.items.start)
			buf_addf(&f->others, "%s%s", f->others.len ? ", " : "",
			         kinds[i][1]);
	}
}

static int
metadata(struct file *f, struct err *err)
{
	static const char *const rule_names[] = {
		"unencrypted_suffix",        "encrypted_suffix",
		"unencrypted_regex",         "encrypted_regex",
		"unencrypted_comment_regex", "encrypted_comment_regex",
	};
	yaml_document_t *doc = &f->d[0];
	yaml_node_t *m =
	        ymap_get(doc, yaml_document_get_root_node(doc), "sops");
	yaml_node_t *groups, *moe;
	size_t nrules = 0;
	int rc;

	if (m == NULL || m->type != YAML_MAPPING_NODE ||
	    ymap_get(doc, m, "mac") == NULL ||
	    ymap_get(doc, m, "lastmodified") == NULL)
		return err_set(err, ERR_INVALID,
		               "%s: not a SOPS file (no top-level 'sops' "
		               "mapping with 'mac' and 'lastmodified')",
		               f->name);
	f->meta = m;
	f->mac = yscalar(ymap_get(doc, m, "mac"), NULL);
	f->lastmodified = yscalar(ymap_get(doc, m, "lastmodified"), NULL);
	if (f->mac == NULL || f->lastmodified == NULL)
		return err_set(err, ERR_INVALID,
		               "%s: sops.mac and sops.lastmodified must be "
		               "strings",
		               f->name);
	f->rule = RULE_UNENCRYPTED_SUFFIX;
	f->rule_value = SOPS_DEFAULT_UNENCRYPTED_SUFFIX;
	for (size_t i = 0; i < sizeof(rule_names) / sizeof(rule_names[0]);
	     i++) {
		const char *v = yscalar(ymap_get(doc, m, rule_names[i]), NULL);

		if (v == NULL || *v == '\0')
			continue;
		f->rule = (enum rule)i;
		f->rule_value = v;
		nrules++;
	}
	if (nrules > 1)
		return err_set(err, ERR_INVALID,
		               "%s: more than one of the sops encryption rules "
		               "(encrypted_regex, unencrypted_suffix, ...)",
		               f->name);
	if (f->rule == RULE_UNENCRYPTED_REGEX ||
	    f->rule == RULE_ENCRYPTED_REGEX) {
		if ((rc = regex_new(&f->rule_re, f->rule_value,
		                    strlen(f->rule_value), err)) < 0 ||
		    (rc = regex_match_new(&f->rule_m, f->rule_re, err)) < 0) {
			err_prefix(err, "%s: sops.%s", f->name,
			           rule_names[f->rule]);
			return rc;
		}
	}
	moe = ymap_get(doc, m, "mac_only_encrypted");
	f->mac_only_encrypted = moe && yscalar(moe, NULL) &&
	                        (strcmp(yscalar(moe, NULL), "true") == 0 ||
	                         strcmp(yscalar(moe, NULL), "True") == 0);
	groups = ymap_get(doc, m, "key_groups");
	if (groups && groups->type == YAML_SEQUENCE_NODE &&
	    groups->data.sequence.items.top -
	                    groups->data.sequence.items.start >
	            1)
		return err_set(err, ERR_INVALID,
		               "%s: the data key is split between key groups "
		               "(Shamir); ferry decrypts files with one group",
		               f->name);
	if (groups && groups->type == YAML_SEQUENCE_NODE &&
	    groups->data.sequence.items.top > groups->data.sequence.items.start)
		m = yaml_document_get_node(doc,
		                           *groups->data.sequence.items.start);
	if ((rc = recipients(f, doc, ymap_get(doc, m, "age"), true, err)) < 0 ||
	    (rc = recipients(f, doc, ymap_get(doc, m, "pgp"), false, err)) < 0)
		return rc;
	note_others(f, doc, m);
	return buf_ok(&f->others) ? 0
	                          : err_set(err, ERR_NOMEM, "out of memory");
}

/* The message when no key given opens the data key. */
static int
no_key(struct file *f, const struct sops_keys *keys, const char *why,
       struct err *err)
{
	struct buf m = BUF_INIT;

	buf_addf(&m, "%s: no key given decrypts its data key (encrypted for ",
	         f->name);
	for (size_t i = 0; i < f->nage; i++)
		buf_addf(&m, "%sage %s", i ? ", " : "", f->age[i].id);
	for (size_t i = 0; i < f->npgp; i++)
		buf_addf(&m, "%sPGP %s", f->nage + i ? ", " : "", f->pgp[i].id);
	if (f->others.len)
		buf_addf(&m, "%s%s, which ferry does not use",
		         f->nage + f->npgp ? ", " : "", f->others.ptr);
	buf_addf(&m, "; tried %zu age identit%s", sops_keys_age_count(keys),
	         sops_keys_age_count(keys) == 1 ? "y" : "ies");
	for (size_t i = 0; i < sops_keys_age_count(keys) && i < 4; i++) {
		buf_puts(&m, i ? ", " : " (");
		sops_keys_age_recipient(&m, keys, i);
		if (i + 1 == sops_keys_age_count(keys) || i == 3)
			buf_putc(&m, ')');
	}
	buf_addf(&m, " and %zu PGP key%s%s%s)", sops_keys_pgp_count(keys),
	         sops_keys_pgp_count(keys) == 1 ? "" : "s", why ? ": " : "",
	         why ? why : "");
	err_set(err, ERR_AUTH, "%s", buf_ok(&m) ? m.ptr : "no key decrypts it");
	buf_release(&m);
	return -ERR_AUTH;
}

static int
data_key(struct file *f, const struct sops_keys *keys, struct err *err)
{
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;
	char why[ERR_MSG_MAX] = "";
	int rc = -ERR_AUTH;

	for (size_t i = 0;
	     i < f->nage && rc == -ERR_AUTH && keys && keys->nage > 0; i++) {
		buf_reset(&out);
		rc = sops_age_decrypt(&out, f->age[i].enc, f->age[i].enc_len,
		                      keys, &e);
		if (rc == 0 && out.len != SOPS_DATA_KEY)
			rc = err_set(&e, ERR_INVALID,
			             "the data key of age recipient %zu is %zu "
			             "bytes, not %d",
			             i + 1, out.len, SOPS_DATA_KEY);
		if (rc == -ERR_INVALID) {
			/* a broken stanza: say so if nothing else works */
			snprintf(why, sizeof(why), "%s", e.msg);
			rc = -ERR_AUTH;
		} else if (rc < 0 && rc != -ERR_AUTH) {
			*err = e;
			goto out;
		}
	}
	if (rc == -ERR_AUTH && f->npgp > 0 && keys && keys->npgp > 0) {
		const char *msgs[SOPS_MAX_RECIPIENTS];
		size_t lens[SOPS_MAX_RECIPIENTS], which = 0;

		for (size_t i = 0; i < f->npgp; i++) {
			msgs[i] = f->pgp[i].enc;
			lens[i] = f->pgp[i].enc_len;
		}
		buf_reset(&out);
		rc = sops_pgp_decrypt(&out, &which, msgs, lens, f->npgp, keys,
		                      &e);
		if (rc == 0 && out.len != SOPS_DATA_KEY)
			rc = err_set(&e, ERR_INVALID,
			             "the data key of PGP recipient %zu is %zu "
			             "bytes, not %d",
			             which + 1, out.len, SOPS_DATA_KEY);
		if (rc == -ERR_AUTH)
			snprintf(why, sizeof(why), "%s", e.msg);
		else if (rc < 0) {
			err_set(err, e.code, "%s: %s", f->name, e.msg);
			goto out;
		}
	}
	if (rc == -ERR_AUTH) {
		rc = no_key(f, keys, why[0] ? why : NULL, err);
		goto out;
	}
	memcpy(f->key, out.ptr, SOPS_DATA_KEY);
out:
	if (out.cap)
		sodium_memzero(out.ptr, out.cap);
	buf_release(&out);
	return rc;
}

/* ---- values ---- */

struct enc_value {
	struct buf data, iv, tag;
	const char *type; /* into the source, type_len bytes */
	size_t type_len;
};

static void
enc_value_release(struct enc_value *v)
{
	buf_release(&v->data);
	buf_release(&v->iv);
	buf_release(&v->tag);
}

static bool
is_enc(const char *s, size_t len)
{
	return len > 16 && memcmp(s, "ENC[AES256_GCM,", 15) == 0 &&
	       s[len - 1] == ']';
}

/* "data:B64" and the like: the value of field name at *p, up to ','. */
static bool
enc_field(struct buf *out, const char **p, const char *end, const char *name,
          bool b64, const char **raw, size_t *raw_len)
{
	size_t nl = strlen(name);
	const char *v, *comma;
	struct err e = ERR_INIT;

	if ((size_t)(end - *p) < nl + 1 || memcmp(*p, name, nl) != 0 ||
	    (*p)[nl] != ':')
		return false;
	v = *p + nl + 1;
	comma = memchr(v, ',', (size_t)(end - v));
	if (comma == NULL)
		comma = end;
	if (b64 && base64_decode(out, v, (size_t)(comma - v), &e) < 0)
		return false;
	if (raw) {
		*raw = v;
		*raw_len = (size_t)(comma - v);
	}
	*p = comma < end ? comma + 1 : end;
	return true;
}

/* ENC[AES256_GCM,data:...,iv:...,tag:...,type:...] */
static bool
enc_parse(struct enc_value *v, const char *s, size_t len)
{
	const char *p = s + 15, *end = s + len - 1;

	return enc_field(&v->data, &p, end, "data", true, NULL, NULL) &&
	       enc_field(&v->iv, &p, end, "iv", true, NULL, NULL) &&
	       enc_field(&v->tag, &p, end, "tag", true, NULL, NULL) &&
	       enc_field(NULL, &p, end, "type", false, &v->type,
	                 &v->type_len) &&
	       p == end && v->iv.len > 0 && v->tag.len == 16;
}

/* AES-256-GCM of one value; the plaintext goes to out (wipe it). */
static bool
aes_open(struct buf *out, const struct enc_value *v,
         const unsigned char key[SOPS_DATA_KEY], const char *aad,
         size_t aad_len)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, m = 0;
	bool ok = false;

	if (ctx == NULL || buf_grow(out, v->data.len + 16) < 0)
		goto out;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)v->iv.len,
	                        NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key,
	                       (const unsigned char *)v->iv.ptr) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad,
	                      (int)aad_len) != 1 ||
	    EVP_DecryptUpdate(ctx, (unsigned char *)out->ptr, &n,
	                      (const unsigned char *)v->data.ptr,
	                      (int)v->data.len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16,
	                        (void *)v->tag.ptr) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)out->ptr + n, &m) != 1)
		goto out;
	out->len = (size_t)(n + m);
	out->ptr[out->len] = '\0';
	ok = true;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (!ok && out->cap)
		sodium_memzero(out->ptr, out->cap);
	if (!ok)
		out->len = 0;
	return ok;
}

/* ---- Go's number formats, for the MAC ---- */

/*
 * strconv.ParseInt(s, 0, 64), or with is_unsigned ParseUint(s, 0, 64)
 * (no sign, up to 2^64 - 1): 0x, 0o, 0b, a leading 0 (octal) or decimal
 * digits.
 */
static bool
go_parse_int_base0(unsigned long long *mag, bool *neg_out, const char *s,
                   size_t len, bool is_unsigned)
{
	size_t i = 0;
	bool neg = false;
	unsigned base = 10;
	unsigned long long v = 0, lim;

	if (!is_unsigned && i < len && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (len - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X'))
		base = 16, i += 2;
	else if (len - i >= 2 && s[i] == '0' &&
	         (s[i + 1] == 'o' || s[i + 1] == 'O'))
		base = 8, i += 2;
	else if (len - i >= 2 && s[i] == '0' &&
	         (s[i + 1] == 'b' || s[i + 1] == 'B'))
		base = 2, i += 2;
	else if (len - i >= 2 && s[i] == '0')
		base = 8, i += 1;
	if (i >= len)
		return false;
	lim = is_unsigned ? ULLONG_MAX
	      : neg       ? (unsigned long long)INT64_MAX + 1
	                  : (unsigned long long)INT64_MAX;
	for (; i < len; i++) {
		unsigned d;

		if (s[i] >= '0' && s[i] <= '9')
			d = (unsigned)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = (unsigned)(s[i] - 'a' + 10);
		else if (s[i] >= 'A' && s[i] <= 'F')
			d = (unsigned)(s[i] - 'A' + 10);
		else
			return false;
		if (d >= base || v > (lim - d) / base)
			return false;
		v = v * base + d;
	}
	*mag = v;
	*neg_out = neg;
	return true;
}

static bool
go_parse_int(long long *out, const char *s, size_t len)
{
	unsigned long long mag;
	bool neg;

	if (!go_parse_int_base0(&mag, &neg, s, len, false))
		return false;
	*out = neg ? (long long)(0 - mag) : (long long)mag;
	return true;
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool
yaml_style_float(const char *s, size_t len)
{
	size_t i = 0, d = 0;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i < len && s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (d == 0)
			return false;
	} else {
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (d == 0)
			return false;
		if (i < len && s[i] == '.')
			for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
				;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		d = 0;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (d == 0)
			return false;
	}
	return i == len;
}

/* strconv.ParseFloat(s, 64) of a decimal float; false out of range. */
static bool
go_parse_float(double *out, const char *s, size_t len)
{
	char tmp[400], *end;

	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	errno = 0;
	*out = strtod(tmp, &end);
	return *end == '\0' && errno != ERANGE;
}

/* strconv.FormatFloat(f, 'f', -1, 64): the shortest decimal that reads
 * back as f, never with an exponent. */
static void
go_format_float(struct buf *out, double f)
{
	char e[40], digits[20];
	int prec, exp10, nd = 0;

	if (isnan(f)) {
		buf_puts(out, "NaN");
		return;
	}
	if (isinf(f)) {
		buf_puts(out, f > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (signbit(f))
		buf_putc(out, '-');
	f = fabs(f);
	if (f == 0) {
		buf_putc(out, '0');
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, f);
		if (strtod(e, NULL) == f)
			break;
	}
	/* e is "d.ddde[+-]XX": the digits, then the exponent */
	for (const char *p = e; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	exp10 = (int)strtol(strchr(e, 'e') + 1, NULL, 10);
	if (exp10 < 0) {
		buf_puts(out, "0.");
		for (int i = 0; i < -exp10 - 1; i++)
			buf_putc(out, '0');
		buf_add(out, digits, (size_t)nd);
		return;
	}
	for (int i = 0; i <= exp10; i++)
		buf_putc(out, i < nd ? digits[i] : '0');
	if (nd > exp10 + 1) {
		buf_putc(out, '.');
		buf_add(out, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
	}
}

static bool
word_is(const char *s, size_t len, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == len && memcmp(*words, s, len) == 0)
			return true;
	return false;
}

enum vkind { V_NULL, V_STR, V_OTHER, V_UNSUPPORTED };

/*
 * How Go's yaml.v3 decodes a plain scalar into interface{} (resolve.go),
 * and the bytes sops' MAC then takes for it (sops.ToBytes): null (not a
 * value), a string (its bytes), or a bool, int or float printed the Go
 * way.  A uint64 is a type sops' walk refuses.
 */
static enum vkind
plain_bytes(struct buf *out, const yaml_node_t *n)
{
	static const char *const trues[] = { "true", "True", "TRUE", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", NULL };
	static const char *const nulls[] = { "",     "~",    "null",
		                             "Null", "NULL", NULL };
	static const char *const nans[] = { ".nan", ".NaN", ".NAN", NULL };
	static const char *const infs[] = { ".inf",  ".Inf",  ".INF", "+.inf",
		                            "+.Inf", "+.INF", NULL };
	static const char *const ninfs[] = { "-.inf", "-.Inf", "-.INF", NULL };
	const char *s = (const char *)n->data.scalar.value;
	size_t len = n->data.scalar.length;
	char c = len ? s[0] : '\0';
	struct buf plain = BUF_INIT;
	enum vkind k = V_OTHER;
	unsigned long long mag;
	long long iv;
	double fv;
	bool neg;

	/* (libyaml gives every untagged scalar the !!str tag, so an
	 * explicit one cannot be told apart: the style decides) */
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		buf_add(out, s, len);
		return V_STR;
	}
	if (word_is(s, len, nulls))
		return V_NULL;
	if (word_is(s, len, trues) || word_is(s, len, falses)) {
		buf_puts(out, word_is(s, len, trues) ? "True" : "False");
		return V_OTHER;
	}
	if (word_is(s, len, nans) || word_is(s, len, infs) ||
	    word_is(s, len, ninfs)) {
		go_format_float(out, word_is(s, len, nans)   ? NAN
		                     : word_is(s, len, infs) ? INFINITY
		                                             : -INFINITY);
		return V_OTHER;
	}
	if (c == '.') {
		if (go_parse_float(&fv, s, len) && yaml_style_float(s, len)) {
			go_format_float(out, fv);
			return V_OTHER;
		}
		buf_add(out, s, len);
		return V_STR;
	}
	if (!((c >= '0' && c <= '9') || c == '+' || c == '-')) {
		buf_add(out, s, len);
		return V_STR;
	}
	/* an int, a float, or a timestamp (a string into interface{});
	 * '_' is dropped first, as yaml.v3 does */
	for (size_t i = 0; i < len; i++)
		if (s[i] != '_')
			buf_putc(&plain, s[i]);
	if (!buf_ok(&plain)) {
		k = V_UNSUPPORTED;
	} else if (go_parse_int(&iv, plain.ptr, plain.len)) {
		buf_addf(out, "%lld", iv);
	} else if (go_parse_int_base0(&mag, &neg, plain.ptr, plain.len, true)) {
		k = V_UNSUPPORTED;
	} else if (yaml_style_float(plain.ptr, plain.len) &&
	           go_parse_float(&fv, plain.ptr, plain.len)) {
		go_format_float(out, fv);
	} else {
		buf_add(out, s, len);
		k = V_STR;
	}
	buf_release(&plain);
	return k;
}

/* ---- rendering plaintext into YAML ---- */

/* Plain is safe when it reads back as this string in YAML 1.1 and 1.2. */
static bool
plain_ok(const char *s, size_t len, bool flow)
{
	static const char *const words[] = {
		"y",     "Y",     "yes",  "Yes",  "YES",  "n",    "N",
		"no",    "No",    "NO",   "true", "True", "TRUE", "false",
		"False", "FALSE", "on",   "On",   "ON",   "off",  "Off",
		"OFF",   "null",  "Null", "NULL", NULL
	};

	if (len == 0 || word_is(s, len, words))
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      s[0] == '_' || s[0] == '/'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("_./+=@%-", c) != NULL)
			continue;
		if (!flow && c == ':' && i + 1 < len && s[i + 1] != ' ')
			continue;
		return false;
	}
	return s[len - 1] != ':';
}

static void
render_quoted(struct buf *out, const char *s, size_t len)
{
	buf_putc(out, '"');
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t n = 1;

		if (c == '"' || c == '\\') {
			buf_putc(out, '\\');
			buf_putc(out, (char)c);
		} else if (c == '\n') {
			buf_puts(out, "\\n");
		} else if (c == '\t') {
			buf_puts(out, "\\t");
		} else if (c == '\r') {
			buf_puts(out, "\\r");
		} else if (c < 0x20 || c == 0x7f) {
			buf_addf(out, "\\x%02x", c);
		} else if (c >= 0x80 && utf8_decode(s + i, len - i, &n) < 0) {
			/* not UTF-8: the byte as a code point, the closest
			 * YAML can write */
			buf_addf(out, "\\x%02x", c);
			n = 1;
		} else {
			if (c < 0x80)
				n = 1;
			buf_add(out, s + i, n);
		}
		i += n;
	}
	buf_putc(out, '"');
}

static void
render_string(struct buf *out, const char *s, size_t len, bool flow)
{
	/* in a flow collection (JSON above all) a string is always quoted,
	 * so that a JSON file stays JSON */
	if (!flow && plain_ok(s, len, flow))
		buf_add(out, s, len);
	else
		render_quoted(out, s, len);
}

/* ---- edits ---- */

static int
edit_add(struct file *f, size_t start, size_t end, const char *text, size_t len,
         bool removal)
{
	struct edit *e;

	if (f->nedits == f->cap_edits) {
		size_t cap = f->cap_edits ? f->cap_edits * 2 : 64;
		struct edit *v = reallocarray(f->edits, cap, sizeof(*v));

		if (v == NULL)
			return -ERR_NOMEM;
		f->edits = v;
		f->cap_edits = cap;
	}
	e = &f->edits[f->nedits++];
	e->start = start;
	e->end = end;
	e->text = f->texts.len;
	e->text_len = len;
	e->removal = removal;
	return buf_add(&f->texts, text, len);
}

static int
edit_cmp(const void *a, const void *b)
{
	const struct edit *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* ---- the walk ---- */

struct walk {
	struct file *f;
	yaml_document_t *doc;
	struct err *err;
	int rc;
};

static bool
rule_says_encrypted(struct file *f, bool *by_form)
{
	bool any = false;

	*by_form = false;
	switch (f->rule) {
	case RULE_UNENCRYPTED_COMMENT_REGEX:
	case RULE_ENCRYPTED_COMMENT_REGEX:
		/* the rule reads comments, which libyaml does not keep:
		 * the value's own form says it (the MAC still checks) */
		*by_form = true;
		return false;
	default:
		break;
	}
	/* each key of the path against the rule */
	for (size_t i = 0; i < f->nkeys && !any; i++) {
		const char *p = f->path.ptr + f->key_at[i];
		size_t kl = f->key_len[i];

		if (f->rule == RULE_UNENCRYPTED_SUFFIX ||
		    f->rule == RULE_ENCRYPTED_SUFFIX)
			any = str_has_suffix(p, kl, f->rule_value);
		else
			any = regex_exec(f->rule_re, f->rule_m, p, kl) == 1;
	}
	if (f->rule == RULE_UNENCRYPTED_SUFFIX ||
	    f->rule == RULE_UNENCRYPTED_REGEX)
		return !any;
	return any;
}

static void
mac_add(struct file *f, const void *p, size_t len)
{
	crypto_hash_sha512_update(&f->mac_state, p, len);
}

/* The typed plaintext of a value: MAC bytes and YAML text. */
static int
typed(struct buf *mac, struct buf *yaml, const char *type, size_t tlen,
      const struct buf *plain, bool flow)
{
	long long iv;
	double fv;
	if (tlen == 3 && memcmp(type, "str", 3) == 0) {
		buf_add(mac, plain->ptr, plain->len);
		render_string(yaml, plain->ptr, plain->len, flow);
	} else if (tlen == 5 && memcmp(type, "bytes", 5) == 0) {
		buf_add(mac, plain->ptr, plain->len);
		render_string(yaml, plain->ptr, plain->len, flow);
	} else if (tlen == 3 && memcmp(type, "int", 3) == 0) {
		/* strconv.Atoi: decimal only */
		size_t i = plain->len &&
		           (plain->ptr[0] == '-' || plain->ptr[0] == '+');
		if (plain->len <= i ||
		    strspn(plain->ptr + i, "0123456789") != plain->len - i ||
		    !go_parse_int(&iv, plain->ptr, plain->len) ||
		    (plain->len - i > 1 && plain->ptr[i] == '0'))
			return -ERR_INVALID;
		buf_addf(mac, "%lld", iv);
		buf_addf(yaml, "%lld", iv);
	} else if (tlen == 5 && memcmp(type, "float", 5) == 0) {
		if (plain->len == 3 && memcmp(plain->ptr, "NaN", 3) == 0)
			fv = NAN;
		else if (plain->len == 4 && memcmp(plain->ptr, "+Inf", 4) == 0)
			fv = INFINITY;
		else if (plain->len == 4 && memcmp(plain->ptr, "-Inf", 4) == 0)
			fv = -INFINITY;
		else if (!go_parse_float(&fv, plain->ptr, plain->len))
			return -ERR_INVALID;
		go_format_float(mac, fv);
		if (isnan(fv))
			buf_puts(yaml, ".nan");
		else if (isinf(fv))
			buf_puts(yaml, fv > 0 ? ".inf" : "-.inf");
		else
			go_format_float(yaml, fv);
	} else if (tlen == 4 && memcmp(type, "bool", 4) == 0) {
		static const char *const t[] = { "1",    "t",    "T", "TRUE",
			                         "true", "True", NULL };
		static const char *const n[] = { "0",     "f",     "F", "FALSE",
			                         "false", "False", NULL };
		bool v = word_is(plain->ptr, plain->len, t);

		if (!v && !word_is(plain->ptr, plain->len, n))
			return -ERR_INVALID;
		buf_puts(mac, v ? "True" : "False");
		buf_puts(yaml, v ? "true" : "false");
	} else if (tlen == 4 && memcmp(type, "time", 4) == 0) {
		int64_t sec;
		struct err e = ERR_INIT;

		if (rfc3339_parse(&sec, NULL, plain->ptr, plain->len, &e) < 0)
			return -ERR_INVALID;
		buf_add(mac, plain->ptr, plain->len);
		buf_add(yaml, plain->ptr, plain->len);
	} else {
		return -ERR_INVALID;
	}
	return buf_ok(mac) && buf_ok(yaml) ? 0 : -ERR_NOMEM;
}

/* The current path as "data.password", for messages. */
static const char *
dotted(char *out, size_t cap, const struct file *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nkeys && n + 1 < cap; i++) {
		int w = snprintf(out + n, cap - n, "%s%.*s", i ? "." : "",
		                 (int)f->key_len[i],
		                 f->path.ptr + f->key_at[i]);

		if (w < 0)
			break;
		n += (size_t)w;
	}
	if (n >= cap)
		n = cap - 1;
	out[n] = '\0';
	return out;
}

static void
walk_leaf(struct walk *w, yaml_node_t *n, bool flow)
{
	struct file *f = w->f;
	const char *s = (const char *)n->data.scalar.value;
	size_t len = n->data.scalar.length;
	struct buf mac = BUF_INIT, yaml = BUF_INIT, plain = BUF_INIT;
	struct enc_value v = { BUF_INIT, BUF_INIT, BUF_INIT, NULL, 0 };
	bool by_form, encrypted;
	enum vkind k;
	char where[512];
	int rc = 0;

	dotted(where, sizeof(where), f);
	encrypted = rule_says_encrypted(f, &by_form);
	if (by_form)
		encrypted = is_enc(s, len);
	k = plain_bytes(&mac, n);
	if (k == V_NULL)
		goto out; /* a null is not a value: nothing to decrypt or hash
		           */
	if (k == V_UNSUPPORTED) {
		rc = err_set(w->err, ERR_INVALID,
		             "%s:%zu:%zu: %s: an integer above int64, which "
		             "sops cannot have written",
		             f->name, n->start_mark.line + 1,
		             n->start_mark.column + 1, where);
		goto out;
	}
	if (!encrypted)
		goto hash;
	buf_reset(&mac);
	if (k != V_STR ||
	    (len > 0 && (!is_enc(s, len) || !enc_parse(&v, s, len)))) {
		rc = err_set(w->err, ERR_INVALID,
		             "%s:%zu:%zu: %s: not an encrypted value, though "
		             "the file's rules say it must be (tampered?)",
		             f->name, n->start_mark.line + 1,
		             n->start_mark.column + 1, where);
		goto out;
	}
	if (len == 0)
		goto hash; /* sops leaves an empty string as it is */
	if (!aes_open(&plain, &v, f->key, f->path.ptr, f->path.len)) {
		rc = err_set(w->err, ERR_INVALID,
		             "%s:%zu:%zu: %s: the value does not decrypt "
		             "(tampered, or encrypted with another data key)",
		             f->name, n->start_mark.line + 1,
		             n->start_mark.column + 1, where);
		goto out;
	}
	if ((rc = typed(&mac, &yaml, v.type, v.type_len, &plain, flow)) < 0) {
		if (rc == -ERR_NOMEM)
			rc = err_set(w->err, ERR_NOMEM, "out of memory");
		else
			rc = err_set(w->err, ERR_INVALID,
			             "%s:%zu:%zu: %s: the value is not of its "
			             "type '%.*s'",
			             f->name, n->start_mark.line + 1,
			             n->start_mark.column + 1, where,
			             (int)v.type_len, v.type);
		goto out;
	}
	if (edit_add(f, off_of(f, n->start_mark.index),
	             off_of(f, n->end_mark.index), yaml.ptr, yaml.len,
	             false) < 0) {
		rc = err_set(w->err, ERR_NOMEM, "out of memory");
		goto out;
	}
hash:
	if (!buf_ok(&mac)) {
		rc = err_set(w->err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (!f->mac_only_encrypted || encrypted)
		mac_add(f, mac.ptr, mac.len);
out:
	if (rc < 0)
		w->rc = rc;
	if (mac.cap)
		sodium_memzero(mac.ptr, mac.cap);
	if (yaml.cap)
		sodium_memzero(yaml.ptr, yaml.cap);
	if (plain.cap)
		sodium_memzero(plain.ptr, plain.cap);
	buf_release(&mac);
	buf_release(&yaml);
	buf_release(&plain);
	enc_value_release(&v);
}

static int
spot_add(struct file *f, const yaml_node_t *n, bool collection)
{
	struct spot *s;

	if (f->nspots == f->cap_spots) {
		size_t cap = f->cap_spots ? f->cap_spots * 2 : 64;
		struct spot *v = reallocarray(f->spots, cap, sizeof(*v));

		if (v == NULL)
			return -ERR_NOMEM;
		f->spots = v;
		f->cap_spots = cap;
	}
	s = &f->spots[f->nspots++];
	s->start = off_of(f, n->start_mark.index);
	s->end = collection ? off_of(f, n->end_mark.index) : 0;
	s->line = n->start_mark.line;
	s->column = n->start_mark.column;
	s->path = f->paths.len;
	buf_add(&f->paths, f->path.ptr, f->path.len + 1);
	return buf_ok(&f->paths) ? 0 : -ERR_NOMEM;
}

static void
walk_node(struct walk *w, yaml_node_t *n, bool flow, bool root)
{
	struct file *f = w->f;

	if (w->rc < 0 || n == NULL)
		return;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		walk_leaf(w, n, flow);
		return;
	case YAML_SEQUENCE_NODE:
		if (spot_add(f, n, true) < 0) {
			w->rc = err_set(w->err, ERR_NOMEM, "out of memory");
			return;
		}
		flow |= n->data.sequence.style == YAML_FLOW_SEQUENCE_STYLE;
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top && w->rc == 0; i++) {
			yaml_node_t *item = yaml_document_get_node(w->doc, *i);

			if (item && spot_add(f, item, false) < 0)
				w->rc = err_set(w->err, ERR_NOMEM,
				                "out of memory");
			walk_node(w, item, flow, false);
		}
		return;
	case YAML_MAPPING_NODE:
		if (spot_add(f, n, true) < 0) {
			w->rc = err_set(w->err, ERR_NOMEM, "out of memory");
			return;
		}
		flow |= n->data.mapping.style == YAML_FLOW_MAPPING_STYLE;
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top && w->rc == 0; p++) {
			yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
			yaml_node_t *v =
			        yaml_document_get_node(w->doc, p->value);
			size_t kl, save = f->path.len;
			const char *ks = yscalar(k, &kl);

			if (ks == NULL) {
				w->rc = err_set(
				        w->err, ERR_INVALID,
				        "%s:%zu:%zu: a key that is not a "
				        "string",
				        f->name, k ? k->start_mark.line + 1 : 0,
				        k ? k->start_mark.column + 1 : 0);
				return;
			}
			if (root && kl == 4 && memcmp(ks, "sops", 4) == 0)
				continue;
			if (spot_add(f, k, false) < 0) {
				w->rc = err_set(w->err, ERR_NOMEM,
				                "out of memory");
				return;
			}
			if (f->nkeys > SOPS_MAX_DEPTH) {
				w->rc = err_set(w->err, ERR_INVALID,
				                "%s: nested deeper than %d",
				                f->name, SOPS_MAX_DEPTH);
				return;
			}
			f->key_at[f->nkeys] = f->path.len;
			f->key_len[f->nkeys] = kl;
			f->nkeys++;
			buf_add(&f->path, ks, kl);
			buf_putc(&f->path, ':');
			if (!buf_ok(&f->path)) {
				w->rc = err_set(w->err, ERR_NOMEM,
				                "out of memory");
				return;
			}
			walk_node(w, v, flow, false);
			buf_truncate(&f->path, save);
			f->nkeys--;
		}
		return;
	default:
		return;
	}
}

/* ---- the metadata out of the output ---- */

static size_t
line_start(const struct file *f, size_t at)
{
	while (at > 0 && f->src[at - 1] != '\n')
		at--;
	return at;
}

static size_t
node_start(struct file *f, yaml_document_t *doc, int id)
{
	return off_of(f, yaml_document_get_node(doc, id)->start_mark.index);
}

static size_t
node_end(struct file *f, yaml_document_t *doc, int id)
{
	return off_of(f, yaml_document_get_node(doc, id)->end_mark.index);
}

/* Removes the "sops" pair of a document's root mapping. */
static int
remove_metadata(struct file *f, yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	yaml_node_pair_t *first, *top, *p;
	size_t start, end;

	if (root == NULL || root->type != YAML_MAPPING_NODE)
		return 0;
	first = root->data.mapping.pairs.start;
	top = root->data.mapping.pairs.top;
	for (p = first; p < top; p++) {
		size_t kl;
		const char *ks =
		        yscalar(yaml_document_get_node(doc, p->key), &kl);

		if (ks && kl == 4 && memcmp(ks, "sops", 4) == 0)
			break;
	}
	if (p == top)
		return 0;
	if (root->data.mapping.style == YAML_FLOW_MAPPING_STYLE) {
		/* JSON: from the end of the previous value (its comma
		 * included), or up to the next key when it is the first */
		if (p > first)
			start = node_end(f, doc, p[-1].value);
		else
			start = node_start(f, doc, p->key);
		end = node_end(f, doc, p->value);
		if (p == first && p + 1 < top)
			end = node_start(f, doc, p[1].key);
	} else {
		start = line_start(f, node_start(f, doc, p->key));
		end = node_end(f, doc, p->value);
		/* and the rest of its last line, when it holds nothing */
		while (end < f->len &&
		       (f->src[end] == ' ' || f->src[end] == '\t'))
			end++;
		if (end < f->len && f->src[end] == '\n')
			end++;
		/* a block value ends where the next token starts: give back
		 * that line's indentation */
		if (p + 1 < top)
			end = line_start(f, node_start(f, doc, p[1].key));
	}
	return edit_add(f, start, end, "", 0, true);
}

/* ---- comments ---- */

/*
 * The AAD a comment at index pos (line, column) may have been encrypted
 * with, by attempt: the branch of the next key or item at its column (a
 * head comment), of the innermost mapping or list around it (a foot
 * comment), of the last key or item at its column, of the key on its
 * line (a line comment), or the root.  NULL: no candidate.
 */
static const char *
comment_aad(const struct file *f, size_t pos, size_t line, size_t column,
            int attempt)
{
	const struct spot *best = NULL;

	if (attempt == 4)
		return "";
	for (size_t i = 0; i < f->nspots; i++) {
		const struct spot *s = &f->spots[i];

		if (s->end > 0) {
			if (attempt == 1 && s->start <= pos && pos < s->end &&
			    (best == NULL ||
			     s->end - s->start < best->end - best->start))
				best = s;
			continue;
		}
		if (attempt == 0 && s->start > pos && s->column == column &&
		    (best == NULL || s->start < best->start))
			best = s;
		else if (attempt == 2 && s->start < pos &&
		         s->column == column &&
		         (best == NULL || s->start > best->start))
			best = s;
		else if (attempt == 3 && s->start < pos && s->line == line &&
		         (best == NULL || s->start > best->start))
			best = s;
	}
	return best ? f->paths.ptr + best->path : NULL;
}

static int
decrypt_comments(struct file *f, struct err *err)
{
	static const char mark[] = "#ENC[AES256_GCM,";
	size_t line = 0, col = 0;

	for (size_t i = 0; i < f->len; i++) {
		const char *close;
		struct enc_value v = { BUF_INIT, BUF_INIT, BUF_INIT, NULL, 0 };
		struct buf plain = BUF_INIT, aad = BUF_INIT;
		bool in_edit = false, opened = false;

		if (f->src[i] == '\n') {
			line++;
			col = 0;
			continue;
		}
		col++;
		if (f->src[i] != '#' || f->len - i < sizeof(mark) - 1 ||
		    memcmp(f->src + i, mark, sizeof(mark) - 1) != 0 ||
		    (i > 0 && f->src[i - 1] != ' ' && f->src[i - 1] != '\t' &&
		     f->src[i - 1] != '\n'))
			continue;
		for (size_t e = 0; e < f->nedits; e++)
			in_edit |=
			        i >= f->edits[e].start && i < f->edits[e].end;
		close = memchr(f->src + i, ']', f->len - i);
		if (in_edit || close == NULL ||
		    !enc_parse(&v, f->src + i + 1,
		               (size_t)(close - f->src) - i) ||
		    v.type_len != 7 || memcmp(v.type, "comment", 7) != 0) {
			enc_value_release(&v);
			continue;
		}
		for (int attempt = 0; attempt < 5 && !opened; attempt++) {
			const char *p =
			        comment_aad(f, i, line, col - 1, attempt);

			if (p == NULL)
				continue;
			buf_reset(&aad);
			buf_puts(&aad, *p ? p : ":");
			opened = buf_ok(&aad) &&
			         aes_open(&plain, &v, f->key, aad.ptr, aad.len);
		}
		if (opened) {
			/* one line stays one line */
			for (size_t k = 0; k < plain.len; k++)
				if (plain.ptr[k] == '\n' ||
				    plain.ptr[k] == '\r')
					plain.ptr[k] = ' ';
			if (edit_add(f, i + 1, (size_t)(close - f->src) + 1,
			             plain.ptr, plain.len, false) < 0) {
				enc_value_release(&v);
				buf_release(&plain);
				buf_release(&aad);
				return err_set(err, ERR_NOMEM, "out of memory");
			}
		}
		/* else: as sops, a comment that does not decrypt stays */
		if (plain.cap)
			sodium_memzero(plain.ptr, plain.cap);
		buf_release(&plain);
		buf_release(&aad);
		enc_value_release(&v);
	}
	return 0;
}

/* ---- the MAC ---- */

/* lastmodified as Go's time.Format(time.RFC3339) writes what it parsed:
 * no fraction, and Z for a zero offset. */
static void
rfc3339_go(struct buf *out, const char *s)
{
	const char *dot = strchr(s, '.');
	const char *zone;

	if (dot == NULL) {
		buf_puts(out, s);
	} else {
		buf_add(out, s, (size_t)(dot - s));
		zone = dot + 1;
		while (*zone >= '0' && *zone <= '9')
			zone++;
		buf_puts(out, zone);
	}
	if (out->len >= 6 && (strcmp(out->ptr + out->len - 6, "+00:00") == 0 ||
	                      strcmp(out->ptr + out->len - 6, "-00:00") == 0)) {
		buf_truncate(out, out->len - 6);
		buf_putc(out, 'Z');
	}
}

static int
check_mac(struct file *f, struct err *err)
{
	unsigned char sum[crypto_hash_sha512_BYTES];
	char hex[2 * sizeof(sum) + 1];
	struct enc_value v = { BUF_INIT, BUF_INIT, BUF_INIT, NULL, 0 };
	struct buf plain = BUF_INIT, aad = BUF_INIT;
	bool opened;
	int rc = 0;

	crypto_hash_sha512_final(&f->mac_state, sum);
	for (size_t i = 0; i < sizeof(sum); i++)
		snprintf(hex + 2 * i, 3, "%02X", sum[i]);
	if (!is_enc(f->mac, strlen(f->mac)) ||
	    !enc_parse(&v, f->mac, strlen(f->mac))) {
		rc = err_set(err, ERR_INVALID,
		             "%s: sops.mac is not an encrypted value", f->name);
		goto out;
	}
	rfc3339_go(&aad, f->lastmodified);
	opened = buf_ok(&aad) && aes_open(&plain, &v, f->key, aad.ptr, aad.len);
	if (!opened)
		opened = aes_open(&plain, &v, f->key, f->lastmodified,
		                  strlen(f->lastmodified));
	if (!opened) {
		rc = err_set(err, ERR_INVALID,
		             "%s: sops.mac does not decrypt (sops.lastmodified "
		             "or the MAC was changed)",
		             f->name);
		goto out;
	}
	if (plain.len != strlen(hex) || memcmp(plain.ptr, hex, plain.len) != 0)
		rc = err_set(err, ERR_INVALID,
		             "%s: the MAC does not match: a value, a key or "
		             "their order changed after sops encrypted the "
		             "file (tampered)",
		             f->name);
out:
	buf_release(&plain);
	buf_release(&aad);
	enc_value_release(&v);
	return rc;
}

/* ---- the whole ---- */

static void
file_release(struct file *f)
{
	for (size_t i = 0; i < f->nd; i++)
		yaml_document_delete(&f->d[i]);
	free(f->d);
	regex_match_free(f->rule_m);
	regex_free(f->rule_re);
	buf_release(&f->others);
	sodium_memzero(f->key, sizeof(f->key));
	free(f->edits);
	if (f->texts.cap)
		sodium_memzero(f->texts.ptr, f->texts.cap);
	buf_release(&f->texts);
	free(f->spots);
	buf_release(&f->paths);
	buf_release(&f->path);
}

static int
splice(struct buf *out, struct file *f, unsigned flags)
{
	size_t at = 0, start = out->len;

	qsort(f->edits, f->nedits, sizeof(*f->edits), edit_cmp);
	for (size_t i = 0; i < f->nedits; i++) {
		const struct edit *e = &f->edits[i];

		if (e->start < at)
			continue; /* inside one already made */
		buf_add(out, f->src + at, e->start - at);
		buf_add(out, f->texts.ptr + e->text, e->text_len);
		if (e->removal && (flags & SOPS_KEEP_LINES))
			for (size_t k = e->start; k < e->end; k++)
				if (f->src[k] == '\n')
					buf_putc(out, '\n');
		at = e->end;
	}
	buf_add(out, f->src + at, f->len - at);
	if (!buf_ok(out)) {
		if (out->cap > start)
			sodium_memzero(out->ptr + start, out->cap - start);
		return -ERR_NOMEM;
	}
	return 0;
}

int
sops_decrypt(struct buf *out, const char *data, size_t len, const char *name,
             const struct sops_keys *keys, unsigned flags, struct err *err)
{
	struct file f;
	struct walk w;
	int rc;

	memset(&f, 0, sizeof(f));
	f.name = name;
	f.src = data;
	f.len = len;
	f.others = (struct buf)BUF_INIT;
	f.texts = (struct buf)BUF_INIT;
	f.paths = (struct buf)BUF_INIT;
	f.path = (struct buf)BUF_INIT;
	if (len > SOPS_MAX_FILE) {
		rc = err_set(err, ERR_INVALID, "%s: larger than %zu bytes",
		             name, SOPS_MAX_FILE);
		goto out;
	}
	utf8_index_init(&f.ix, f.src, f.len);
	if ((rc = load(&f, err)) < 0)
		goto out;
	if (f.nd == 0) {
		rc = err_set(err, ERR_INVALID, "%s: not a SOPS file (empty)",
		             name);
		goto out;
	}
	if ((rc = metadata(&f, err)) < 0 || (rc = data_key(&f, keys, err)) < 0)
		goto out;
	crypto_hash_sha512_init(&f.mac_state);
	if (f.mac_only_encrypted) {
		/* sops.MACOnlyEncryptedInitialization */
		static const unsigned char init[32] = {
			0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52,
			0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
			0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6,
			0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69
		};
		mac_add(&f, init, sizeof(init));
	}
	w.f = &f;
	w.err = err;
	w.rc = 0;
	for (size_t i = 0; i < f.nd && w.rc == 0; i++) {
		yaml_node_t *root = yaml_document_get_root_node(&f.d[i]);

		w.doc = &f.d[i];
		buf_reset(&f.path);
		buf_puts(&f.path, "");
		f.nkeys = 0;
		if (root->type == YAML_SCALAR_NODE &&
		    root->data.scalar.length == 0)
			continue;
		if (root->type != YAML_MAPPING_NODE) {
			w.rc = err_set(err, ERR_INVALID,
			               "%s:%zu:%zu: a document that is not a "
			               "mapping (sops encrypts mappings only)",
			               name, root->start_mark.line + 1,
			               root->start_mark.column + 1);
			break;
		}
		walk_node(&w, root, false, true);
		if (w.rc == 0 && remove_metadata(&f, &f.d[i]) < 0)
			w.rc = err_set(err, ERR_NOMEM, "out of memory");
	}
	if ((rc = w.rc) < 0)
		goto out;
	if ((rc = check_mac(&f, err)) < 0 ||
	    (rc = decrypt_comments(&f, err)) < 0)
		goto out;
	if (!buf_ok(&f.texts)) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = splice(out, &f, flags)) < 0)
		err_set(err, ERR_NOMEM, "out of memory");
out:
	file_release(&f);
	return rc;
}
