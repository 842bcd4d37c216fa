/*
 * sealed.c - the Secrets a configuration needs that are not in its files
 * as plain objects: SOPS-encrypted documents (decrypted with core/sops
 * when something refers to them), Secrets in --secrets-dir (as
 * Kubernetes mounts them), and the ExternalSecrets and SealedSecrets
 * that make Secrets in the cluster (only named in messages).
 *
 * It does not talk to a cluster or a secret store, and it decrypts
 * nothing that no object refers to.
 */
#include "config_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"

/* Largest key file read from --secrets-dir (Kubernetes' Secret limit). */
#define CONFIG_MAX_SECRET_KEY ((size_t)1 << 20)
/* Keys of one Secret in --secrets-dir. */
#define CONFIG_MAX_SECRET_KEYS 256

/* ---- recording, while the files are read ---- */

static const char *
clear_scalar(yaml_document_t *doc, yaml_node_t *n)
{
	const char *s;

	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	s = (const char *)n->data.scalar.value;
	/* an encrypted value is not a name */
	if (strncmp(s, "ENC[", 4) == 0 ||
	    memchr(s, '\n', n->data.scalar.length))
		return NULL;
	(void)doc;
	return s;
}

bool
config_sealed_is(yaml_document_t *doc, yaml_node_t *root)
{
	yaml_node_t *m = config_map_get(doc, root, "sops");

	return m && m->type == YAML_MAPPING_NODE &&
	       config_map_get(doc, m, "mac") != NULL &&
	       config_map_get(doc, m, "lastmodified") != NULL;
}

static char *
dup_or_null(struct config *cfg, const char *s)
{
	return s ? config_strdup(cfg, s, strlen(s)) : NULL;
}

void
config_sealed_add(struct config *cfg, const char *file,
                  const struct config_file_state *fs, yaml_document_t *doc,
                  yaml_node_t *root)
{
	struct config_sealed *s;
	struct config_sealed_data *d = NULL;
	yaml_node_t *meta = config_map_get(doc, root, "metadata");
	const char *ns =
	        clear_scalar(doc, config_map_get(doc, meta, "namespace"));
	const char *mac = clear_scalar(
	        doc,
	        config_map_get(doc, config_map_get(doc, root, "sops"), "mac"));

	/* the file's bytes, once per file: a document is decrypted alone or
	 * with the others of its file */
	if (cfg->n_sealed_data > 0 &&
	    cfg->sealed_data[cfg->n_sealed_data - 1].file == file)
		d = &cfg->sealed_data[cfg->n_sealed_data - 1];
	if (d == NULL) {
		if (!config_reserve(cfg, (void **)&cfg->sealed_data,
		                    &cfg->cap_sealed_data, cfg->n_sealed_data,
		                    sizeof(*cfg->sealed_data)))
			return;
		d = &cfg->sealed_data[cfg->n_sealed_data];
		memset(d, 0, sizeof(*d));
		d->file = file;
		if ((d->bytes = config_strdup(cfg, fs->data, fs->len)) == NULL)
			return;
		d->len = fs->len;
		cfg->n_sealed_data++;
	}
	if (!config_reserve(cfg, (void **)&cfg->sealed, &cfg->cap_sealed,
	                    cfg->n_sealed, sizeof(*cfg->sealed)))
		return;
	s = &cfg->sealed[cfg->n_sealed];
	memset(s, 0, sizeof(*s));
	s->file = file;
	s->line = (int)root->start_mark.line + 1;
	s->column = (int)root->start_mark.column + 1;
	s->doc = fs->doc;
	s->start_line = fs->line;
	s->start = config_byte_offset(fs->data, fs->len, fs->start);
	s->end = config_byte_offset(fs->data, fs->len, fs->end);
	s->data = (size_t)(d - cfg->sealed_data);
	s->kind = dup_or_null(
	        cfg, clear_scalar(doc, config_map_get(doc, root, "kind")));
	s->api_version = dup_or_null(
	        cfg,
	        clear_scalar(doc, config_map_get(doc, root, "apiVersion")));
	s->name = dup_or_null(
	        cfg, clear_scalar(doc, config_map_get(doc, meta, "name")));
	s->namespace =
	        dup_or_null(cfg, ns ? ns : config_default_namespace(cfg));
	s->mac = dup_or_null(cfg, mac ? mac : "");
	s->state = CONFIG_SEALED_PENDING;
	cfg->n_sealed++;
}

void
config_creator_note(struct config *cfg, const char *file, yaml_document_t *doc,
                    yaml_node_t *root, const char *api, const char *kind)
{
	yaml_node_t *meta = config_map_get(doc, root, "metadata");
	yaml_node_t *spec = config_map_get(doc, root, "spec");
	const char *name = clear_scalar(doc, config_map_get(doc, meta, "name"));
	const char *ns =
	        clear_scalar(doc, config_map_get(doc, meta, "namespace"));
	const char *secret = NULL;
	struct config_creator *c;

	if (strcmp(kind, "ExternalSecret") == 0 &&
	    strncmp(api, "external-secrets.io/", 20) == 0) {
		/* spec.target.name, else the ExternalSecret's own name */
		secret = clear_scalar(
		        doc,
		        config_map_get(doc, config_map_get(doc, spec, "target"),
		                       "name"));
	} else if (strcmp(kind, "SealedSecret") == 0 &&
	           strncmp(api, "bitnami.com/", 12) == 0) {
		yaml_node_t *tm = config_map_get(
		        doc, config_map_get(doc, spec, "template"), "metadata");

		secret = clear_scalar(doc, config_map_get(doc, tm, "name"));
	} else {
		return;
	}
	if (name == NULL)
		return;
	if (!config_reserve(cfg, (void **)&cfg->creators, &cfg->cap_creators,
	                    cfg->n_creators, sizeof(*cfg->creators)))
		return;
	c = &cfg->creators[cfg->n_creators];
	c->file = file;
	c->line = (int)root->start_mark.line + 1;
	c->column = (int)root->start_mark.column + 1;
	c->kind = dup_or_null(cfg, kind);
	c->name = dup_or_null(cfg, name);
	c->namespace =
	        dup_or_null(cfg, ns ? ns : config_default_namespace(cfg));
	c->secret = dup_or_null(cfg, secret && *secret ? secret : name);
	if (c->kind && c->name && c->namespace && c->secret)
		cfg->n_creators++;
	else {
		free(c->kind);
		free(c->name);
		free(c->namespace);
		free(c->secret);
	}
}

void
config_sealed_release(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_sealed; i++) {
		free(cfg->sealed[i].kind);
		free(cfg->sealed[i].api_version);
		free(cfg->sealed[i].name);
		free(cfg->sealed[i].namespace);
		free(cfg->sealed[i].mac);
	}
	free(cfg->sealed);
	for (size_t i = 0; i < cfg->n_sealed_data; i++)
		free(cfg->sealed_data[i].bytes);
	free(cfg->sealed_data);
	for (size_t i = 0; i < cfg->n_creators; i++) {
		free(cfg->creators[i].kind);
		free(cfg->creators[i].name);
		free(cfg->creators[i].namespace);
		free(cfg->creators[i].secret);
	}
	free(cfg->creators);
	sops_keys_free(cfg->keys);
	cfg->sealed = NULL;
	cfg->sealed_data = NULL;
	cfg->creators = NULL;
	cfg->keys = NULL;
	cfg->n_sealed = cfg->n_sealed_data = cfg->n_creators = 0;
}

/* ---- messages ---- */

void
config_secret_missing_hint(struct buf *out, const struct config *cfg,
                           const char *ns, const char *name)
{
	size_t opaque = 0;

	buf_puts(out, "add it to the files given");
	if (cfg->opts.secrets_dir)
		buf_addf(out, "; it is not in --secrets-dir either (%s/%s/%s/)",
		         cfg->opts.secrets_dir, ns, name);
	else
		buf_addf(out,
		         ", or give --secrets-dir DIR with its keys as "
		         "DIR/%s/%s/KEY, as Kubernetes mounts a Secret",
		         ns, name);
	for (size_t i = 0; i < cfg->n_creators; i++) {
		const struct config_creator *c = &cfg->creators[i];

		if (strcmp(c->namespace, ns) == 0 &&
		    strcmp(c->secret, name) == 0)
			buf_addf(
			        out,
			        "; %s '%s/%s' (%s:%d) makes it in the cluster, "
			        "which ferry does not read: give its keys with "
			        "--secrets-dir",
			        c->kind, c->namespace, c->name, c->file,
			        c->line);
	}
	for (size_t i = 0; i < cfg->n_sealed; i++)
		opaque += cfg->sealed[i].state == CONFIG_SEALED_PENDING &&
		          cfg->sealed[i].name == NULL;
	if (opaque)
		buf_addf(out,
		         "; %zu SOPS document%s with an encrypted name %s not "
		         "read: give a key that decrypts %s "
		         "(--sops-age-key-file)",
		         opaque, opaque == 1 ? "" : "s",
		         opaque == 1 ? "was" : "were",
		         opaque == 1 ? "it" : "them");
	buf_puts(out, ", or fix the name");
}

/* ---- --secrets-dir ---- */

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * DIR/ns/name as a Secret (its file the directory): each regular file a
 * key of data.  Returns the object, or NULL when the directory is not
 * there (or memory ran out: cfg->nomem).
 */
static struct config_object *
secret_from_dir(struct config *cfg, const char *ns, const char *name)
{
	struct buf dir = BUF_INIT, path = BUF_INIT, value = BUF_INIT;
	struct config_object *obj = NULL;
	struct config_secret *sec;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = NULL;

	buf_addf(&dir, "%s/%s/%s", cfg->opts.secrets_dir, ns, name);
	if (!buf_ok(&dir)) {
		cfg->nomem = true;
		goto out;
	}
	if ((d = opendir(dir.ptr)) == NULL) {
		if (errno != ENOENT && errno != ENOTDIR)
			config_diag_add(
			        cfg, dir.ptr, 0, 0, NULL, "",
			        "cannot read the Secret's directory: %s",
			        strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		char *copy;

		/* "..data" and "..2024_..." are the mount's own; a key may
		 * start with one '.' (.dockerconfigjson) */
		if (strncmp(de->d_name, "..", 2) == 0 ||
		    strcmp(de->d_name, ".") == 0)
			continue;
		if (n == CONFIG_MAX_SECRET_KEYS)
			break;
		if (!config_reserve(cfg, (void **)&names, &cap, n,
		                    sizeof(char *)) ||
		    (copy = config_strdup(cfg, de->d_name,
		                          strlen(de->d_name))) == NULL)
			goto out;
		names[n++] = copy;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	obj = calloc(1, sizeof(*obj));
	if (obj == NULL) {
		cfg->nomem = true;
		goto out;
	}
	obj->kind = CONFIG_SECRET;
	obj->file = config_intern_file(cfg, dir.ptr);
	obj->api_version = config_strdup(cfg, "v1", 2);
	obj->metadata.name = config_strdup(cfg, name, strlen(name));
	obj->metadata.namespace = config_strdup(cfg, ns, strlen(ns));
	sec = &obj->u.secret;
	sec->data = calloc(n ? n : 1, sizeof(*sec->data));
	if (sec->data == NULL)
		cfg->nomem = true;
	for (size_t i = 0; i < n && sec->data; i++) {
		struct err e = ERR_INIT;
		struct stat st;

		buf_reset(&path);
		buf_addf(&path, "%s/%s", dir.ptr, names[i]);
		if (!buf_ok(&path) || stat(path.ptr, &st) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (st.st_size > (off_t)CONFIG_MAX_SECRET_KEY) {
			config_diag_add(cfg, path.ptr, 0, 0, NULL, "",
			                "larger than %zu bytes; not read",
			                CONFIG_MAX_SECRET_KEY);
			continue;
		}
		buf_reset(&value);
		if (file_read(&value, path.ptr, &e) < 0) {
			config_diag_add(cfg, path.ptr, 0, 0, NULL, "", "%s",
			                e.msg);
			continue;
		}
		sec->data[sec->n_data].key =
		        config_strdup(cfg, names[i], strlen(names[i]));
		if (sec->data[sec->n_data].key == NULL)
			break;
		if (value.len > 0 && secret_set(&sec->data[sec->n_data].value,
		                                value.ptr, value.len) < 0) {
			free(sec->data[sec->n_data].key);
			cfg->nomem = true;
			break;
		}
		if (strcmp(names[i], ".dockerconfigjson") == 0 &&
		    sec->type == NULL)
			sec->type = config_strdup(
			        cfg, "kubernetes.io/dockerconfigjson", 30);
		sec->n_data++;
	}
	if (sec->type == NULL)
		sec->type = config_strdup(cfg, "Opaque", 6);
	if (obj->file == NULL || obj->api_version == NULL ||
	    obj->metadata.name == NULL || obj->metadata.namespace == NULL ||
	    sec->type == NULL)
		cfg->nomem = true;
out:
	if (obj && cfg->nomem) {
		schema_object_release(obj);
		free(obj);
		obj = NULL;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (d)
		closedir(d);
	if (value.cap)
		secret_wipe(value.ptr, value.cap);
	buf_release(&value);
	buf_release(&path);
	buf_release(&dir);
	return obj;
}

static void
add_object(struct config *cfg, struct config_object *obj)
{
	struct config_vec *v = &cfg->kinds[obj->kind];

	if (!config_reserve(cfg, (void **)&v->v, &v->cap, v->n, sizeof(obj))) {
		schema_object_release(obj);
		free(obj);
		return;
	}
	v->v[v->n++] = obj;
}

/* ---- which Secrets are wanted ---- */

struct wanted {
	size_t changes;    /* objects added or sealed documents wanted */
	size_t unresolved; /* references to Secrets still missing */
	char **tried;      /* "ns/name" looked up in --secrets-dir */
	size_t ntried, cap_tried;
};

/* The object or sealed document the name refers to is there (or will be
 * read): linear, as the index is being rebuilt. */
static const struct config_object *
find_secret(const struct config *cfg, const char *ns, const char *name)
{
	const struct config_vec *v = &cfg->kinds[CONFIG_SECRET];

	for (size_t i = 0; i < v->n; i++)
		if (v->v[i]->metadata.name && v->v[i]->metadata.namespace &&
		    strcmp(v->v[i]->metadata.name, name) == 0 &&
		    strcmp(v->v[i]->metadata.namespace, ns) == 0)
			return v->v[i];
	return NULL;
}

static bool
tried_before(struct config *cfg, struct wanted *w, const char *ns,
             const char *name)
{
	struct buf key = BUF_INIT;
	char *copy;

	buf_addf(&key, "%s/%s", ns, name);
	if (!buf_ok(&key)) {
		cfg->nomem = true;
		return true;
	}
	for (size_t i = 0; i < w->ntried; i++)
		if (strcmp(w->tried[i], key.ptr) == 0) {
			buf_release(&key);
			return true;
		}
	copy = buf_detach(&key);
	if (copy == NULL ||
	    !config_reserve(cfg, (void **)&w->tried, &w->cap_tried, w->ntried,
	                    sizeof(char *))) {
		free(copy);
		cfg->nomem = true;
		return true;
	}
	w->tried[w->ntried++] = copy;
	return false;
}

static void
want_ref(struct config *cfg, const struct config_object *o,
         const struct config_local_ref *ref, const char *path, void *payload)
{
	struct wanted *w = payload;
	const char *ns = o->metadata.namespace;
	struct config_object *obj;

	(void)path;
	if (!ref->pos.set || ref->name == NULL || ns == NULL ||
	    find_secret(cfg, ns, ref->name))
		return;
	for (size_t i = 0; i < cfg->n_sealed; i++) {
		struct config_sealed *s = &cfg->sealed[i];

		if (s->name == NULL || strcmp(s->name, ref->name) != 0 ||
		    strcmp(s->namespace, ns) != 0 || s->kind == NULL ||
		    strcmp(s->kind, "Secret") != 0)
			continue;
		if (s->state == CONFIG_SEALED_PENDING) {
			s->state = CONFIG_SEALED_WANTED;
			w->changes++;
		}
		if (s->state != CONFIG_SEALED_FAILED)
			return;
	}
	if (cfg->opts.secrets_dir && !tried_before(cfg, w, ns, ref->name) &&
	    (obj = secret_from_dir(cfg, ns, ref->name)) != NULL) {
		add_object(cfg, obj);
		w->changes++;
		return;
	}
	w->unresolved++;
}

/* ---- keys ---- */

/* The keys of a decryption Secret: *.agekey and *.asc, as Flux reads
 * them; the others are named in a notice. */
static void
keys_from_secret(struct config *cfg, const struct config_object *k,
                 const struct config_object *sec)
{
	const struct config_kustomization *ks = &k->u.kustomization;
	const struct config_secret *s = &sec->u.secret;

	for (int pass = 0; pass < 2; pass++) {
		const struct config_secret_entry *e =
		        pass ? s->string_data : s->data;
		size_t n = pass ? s->n_string_data : s->n_data;

		for (size_t i = 0; i < n; i++) {
			size_t kl = strlen(e[i].key);
			struct err err = ERR_INIT;
			struct buf src = BUF_INIT;
			int rc = 0;

			buf_addf(&src, "Secret %s/%s key '%s'",
			         sec->metadata.namespace, sec->metadata.name,
			         e[i].key);
			if (str_has_suffix(e[i].key, kl, ".agekey"))
				rc = sops_keys_add_age(
				        cfg->keys, (const char *)e[i].value.ptr,
				        e[i].value.len, src.ptr, &err);
			else if (str_has_suffix(e[i].key, kl, ".asc"))
				rc = sops_keys_add_pgp(
				        cfg->keys, (const char *)e[i].value.ptr,
				        e[i].value.len, src.ptr, &err);
			else
				config_notice_add(
				        cfg, k->file, ks->decryption.pos.line,
				        ks->decryption.pos.column, NULL,
				        "spec.decryption.secretRef",
				        "key '%s' of Secret '%s/%s' is not used: "
				        "ferry decrypts with age (*.agekey) and "
				        "PGP (*.asc) keys only",
				        e[i].key, sec->metadata.namespace,
				        sec->metadata.name);
			if (rc == -ERR_NOMEM)
				cfg->nomem = true;
			else if (rc < 0)
				config_diag_add(cfg, k->file,
				                ks->decryption.pos.line,
				                ks->decryption.pos.column, NULL,
				                "spec.decryption.secretRef",
				                "%s", err.msg);
			buf_release(&src);
		}
	}
}

/* Every key: the option files, then each decryption Secret. */
static void
build_keys(struct config *cfg)
{
	const struct config_vec *v = &cfg->kinds[CONFIG_KUSTOMIZATION];
	struct err err = ERR_INIT;

	if (cfg->keys_built)
		return;
	cfg->keys_built = true;
	if (sops_keys_new(&cfg->keys) < 0) {
		cfg->nomem = true;
		return;
	}
	for (int pgp = 0; pgp < 2; pgp++) {
		char **files =
		        pgp ? cfg->opts.pgp_key_files : cfg->opts.age_key_files;
		size_t n = pgp ? cfg->opts.npgp_key_files
		               : cfg->opts.nage_key_files;

		for (size_t i = 0; i < n; i++) {
			int rc = sops_keys_add_file(cfg->keys, files[i],
			                            pgp == 1, &err);

			if (rc == -ERR_NOMEM)
				cfg->nomem = true;
			else if (rc < 0)
				config_diag_add(cfg, files[i], 0, 0, NULL, "",
				                "%s", err.msg);
		}
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct config_kustomization *k =
		        &v->v[i]->u.kustomization;
		const struct config_object *sec;

		if (k->decryption.secret_ref.name == NULL)
			continue;
		sec = find_secret(cfg, v->v[i]->metadata.namespace,
		                  k->decryption.secret_ref.name);
		if (sec)
			keys_from_secret(cfg, v->v[i], sec);
	}
}

/* ---- decrypting ---- */

struct unit {
	struct config *cfg;
	size_t first; /* the sealed document the unit was made for */
	size_t data;
	bool whole_file;
	bool opaque; /* read the documents whose names were encrypted */
	struct wanted *w;
};

static bool referenced(struct config *cfg, const char *ns, const char *name);

/* Whether one document of the decrypted text is read. */
static bool
want_doc(struct config *cfg, size_t doc, yaml_document_t *d, void *payload)
{
	struct unit *u = payload;

	for (size_t i = 0; i < cfg->n_sealed; i++) {
		struct config_sealed *s = &cfg->sealed[i];
		yaml_node_t *root, *meta;
		const char *kind, *name, *ns;

		if (s->data != u->data ||
		    (u->whole_file ? s->doc != doc : i != u->first))
			continue;
		if (s->state == CONFIG_SEALED_WANTED) {
			s->state = CONFIG_SEALED_READ;
			return true;
		}
		if (!u->opaque || s->state != CONFIG_SEALED_PENDING ||
		    s->name != NULL)
			return false;
		/* its name was encrypted too: read it if it is needed */
		root = yaml_document_get_root_node(d);
		meta = config_map_get(d, root, "metadata");
		kind = clear_scalar(d, config_map_get(d, root, "kind"));
		name = clear_scalar(d, config_map_get(d, meta, "name"));
		ns = clear_scalar(d, config_map_get(d, meta, "namespace"));
		if (ns == NULL)
			ns = config_default_namespace(cfg);
		if (kind && name && strcmp(kind, "Secret") == 0 &&
		    !referenced(cfg, ns, name))
			return false;
		s->state = CONFIG_SEALED_READ;
		u->w->changes++;
		return true;
	}
	return false;
}

/* A file is one sops file when all its documents are sealed with one MAC
 * (sops writes the metadata into each, and MACs them together). */
static bool
whole_file(const struct config *cfg, size_t first)
{
	const struct config_sealed *f = &cfg->sealed[first];
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_sealed; i++) {
		const struct config_sealed *s = &cfg->sealed[i];

		if (s->data != f->data)
			continue;
		if (strcmp(s->mac, f->mac) != 0)
			return false;
		n++;
	}
	return n > 1;
}

static void
decrypt_unit(struct config *cfg, struct unit *u)
{
	const struct config_sealed_data *d = &cfg->sealed_data[u->data];
	const struct config_sealed *s = &cfg->sealed[u->first];
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct err err = ERR_INIT;
	int rc;

	if (u->whole_file) {
		buf_add(&in, d->bytes, d->len);
	} else {
		/* the document alone, after as many empty lines as came
		 * before it: positions stay the file's */
		for (int i = 0; i < s->start_line; i++)
			buf_putc(&in, '\n');
		buf_add(&in, d->bytes + s->start, s->end - s->start);
	}
	if (!buf_ok(&in)) {
		cfg->nomem = true;
		goto out;
	}
	rc = sops_decrypt(&out, in.ptr, in.len, s->file, cfg->keys,
	                  SOPS_KEEP_LINES, &err);
	if (rc == -ERR_NOMEM) {
		cfg->nomem = true;
	} else if (rc < 0) {
		struct buf label = BUF_INIT;

		for (size_t i = 0; i < cfg->n_sealed; i++) {
			struct config_sealed *t = &cfg->sealed[i];

			if (t->data != u->data ||
			    (!u->whole_file && i != u->first) ||
			    t->state != (u->opaque ? CONFIG_SEALED_PENDING
			                           : CONFIG_SEALED_WANTED) ||
			    (u->opaque && t->name != NULL))
				continue;
			t->state = CONFIG_SEALED_FAILED;
		}
		if (s->name)
			buf_addf(&label, "%s %s/%s", s->kind ? s->kind : "",
			         s->namespace, s->name);
		if (u->opaque)
			/* not known to be needed: no error for it */
			config_notice_add(
			        cfg, s->file, s->line, s->column, NULL, "",
			        "a document encrypted with SOPS, its "
			        "name too, was not read to see whether "
			        "it is a missing Secret: %s",
			        err.msg);
		else
			config_diag_add(
			        cfg, s->file, s->line, s->column,
			        s->name && buf_ok(&label) ? label.ptr : NULL,
			        "", "SOPS: %s%s", err.msg,
			        rc == -ERR_AUTH
			                ? " (give --sops-age-key-file or "
			                  "--sops-pgp-key-file, or the key as "
			                  "*.agekey or *.asc of the Secret a "
			                  "Kustomization's spec.decryption.secretRef "
			                  "names)"
			                : "");
		buf_release(&label);
	} else if (config_read_decrypted(cfg, s->file, out.ptr, out.len,
	                                 want_doc, u, &err) < 0) {
		cfg->nomem = true;
	}
out:
	if (in.cap)
		secret_wipe(in.ptr, in.cap);
	if (out.cap)
		secret_wipe(out.ptr, out.cap);
	buf_release(&in);
	buf_release(&out);
}

/* Decrypts what is wanted (or, opaque, the documents whose names are
 * encrypted), one sops file or document at a time. */
static void
decrypt_wanted(struct config *cfg, struct wanted *w, bool opaque)
{
	for (size_t i = 0; i < cfg->n_sealed && !cfg->nomem; i++) {
		struct config_sealed *s = &cfg->sealed[i];
		struct unit u = { cfg, i, s->data, false, opaque, w };

		if (opaque ? s->state != CONFIG_SEALED_PENDING || s->name
		           : s->state != CONFIG_SEALED_WANTED)
			continue;
		u.whole_file = whole_file(cfg, i);
		build_keys(cfg);
		decrypt_unit(cfg, &u);
		if (s->state == CONFIG_SEALED_WANTED) {
			/* decrypted, yet its document was not there */
			s->state = CONFIG_SEALED_FAILED;
			config_diag_add(cfg, s->file, s->line, s->column, NULL,
			                "",
			                "SOPS: the decrypted file lost this "
			                "document");
		}
	}
}

struct ref_query {
	const char *ns, *name;
	bool found;
};

static void
match_ref(struct config *cfg, const struct config_object *o,
          const struct config_local_ref *ref, const char *path, void *payload)
{
	struct ref_query *q = payload;

	(void)cfg;
	(void)path;
	if (ref->name && o->metadata.namespace &&
	    strcmp(ref->name, q->name) == 0 &&
	    strcmp(o->metadata.namespace, q->ns) == 0)
		q->found = true;
}

static bool
referenced(struct config *cfg, const char *ns, const char *name)
{
	struct ref_query q = { ns, name, false };

	config_secret_refs(cfg, match_ref, &q);
	return q.found;
}

int
config_resolve_secrets(struct config *cfg)
{
	struct wanted w;

	memset(&w, 0, sizeof(w));
	/* a sealed document of ferry's other kinds is configuration */
	for (size_t i = 0; i < cfg->n_sealed; i++) {
		struct config_sealed *s = &cfg->sealed[i];

		if (s->kind && strcmp(s->kind, "Secret") != 0 &&
		    config_kind_known(s->kind, s->api_version))
			s->state = CONFIG_SEALED_WANTED;
	}
	/* until nothing changes: a decrypted object may refer to more */
	for (int round = 0; round <= (int)cfg->n_sealed + 1 && !cfg->nomem;
	     round++) {
		w.changes = 0;
		w.unresolved = 0;
		config_secret_refs(cfg, want_ref, &w);
		for (size_t i = 0; i < cfg->n_sealed; i++)
			w.changes +=
			        cfg->sealed[i].state == CONFIG_SEALED_WANTED;
		decrypt_wanted(cfg, &w, false);
		if (w.changes == 0 && w.unresolved > 0) {
			/* names still missing: the documents whose names are
			 * encrypted may hold them, when a key opens them */
			build_keys(cfg);
			if (sops_keys_age_count(cfg->keys) +
			            sops_keys_pgp_count(cfg->keys) >
			    0)
				decrypt_wanted(cfg, &w, true);
		}
		if (w.changes == 0)
			break;
	}
	for (size_t i = 0; i < cfg->n_sealed; i++) {
		const struct config_sealed *s = &cfg->sealed[i];

		if (s->state != CONFIG_SEALED_PENDING)
			continue;
		if (s->name && s->kind)
			config_notice_add(
			        cfg, s->file, s->line, s->column, NULL, "",
			        "%s '%s/%s' is encrypted with SOPS and nothing "
			        "ferry reads refers to it: skipped, not decrypted",
			        s->kind, s->namespace, s->name);
		else
			config_notice_add(
			        cfg, s->file, s->line, s->column, NULL, "",
			        "a document encrypted with SOPS, its name too, "
			        "that no missing Secret needed: skipped, not "
			        "decrypted");
	}
	for (size_t i = 0; i < w.ntried; i++)
		free(w.tried[i]);
	free(w.tried);
	return cfg->nomem ? -ERR_NOMEM : 0;
}
