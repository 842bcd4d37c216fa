/*
 * template_model.c - the data Flux and Argo CD Image Updater give commit
 * message templates, built from the list of changes a write-back made.
 *
 * Flux's .Changed.Changes and .Changed.Objects are methods in Go; here
 * they are fields computed up front, which templates cannot tell apart.
 */
#include "writeback/template_model.h"

#include "base/buf.h"

#include <string.h>

#define FLUX_UPDATED_HINT                                                      \
	"the v1beta1 field .Updated is no longer available "                   \
	"(RemovedTemplateField): use .Changed instead"
#define FLUX_IMAGE_RESULT_HINT                                                 \
	"the field .Changed.ImageResult is no longer available "               \
	"(RemovedTemplateField): use .Changed.Changes instead"

static struct template_value *
flux_object_id(struct template_data *d, const struct wb_change *c)
{
	struct template_value *o =
	        template_value_struct(d, "update.ObjectIdentifier", NULL);

	template_struct_set(d, o, "APIVersion",
	                    template_value_cstr(d, c->api_version));
	template_struct_set(d, o, "Kind", template_value_cstr(d, c->kind));
	template_struct_set(d, o, "Name", template_value_cstr(d, c->name));
	template_struct_set(d, o, "Namespace",
	                    template_value_cstr(d, c->namespace_));
	return o;
}

static struct template_value *
flux_change(struct template_data *d, const struct wb_change *c)
{
	struct template_value *v =
	        template_value_struct(d, "update.Change", NULL);

	template_struct_set(d, v, "OldValue",
	                    template_value_cstr(d, c->old_value));
	template_struct_set(d, v, "NewValue",
	                    template_value_cstr(d, c->new_value));
	template_struct_set(d, v, "Setter", template_value_cstr(d, c->setter));
	return v;
}

static bool
change_equal(const struct wb_change *a, const struct wb_change *b)
{
	return strcmp(a->old_value, b->old_value) == 0 &&
	       strcmp(a->new_value, b->new_value) == 0 &&
	       strcmp(a->setter, b->setter) == 0;
}

int
template_model_flux(struct template_data *d, const char *namespace_,
                    const char *name, const struct wb_changes *changes,
                    const struct template_kv *values, size_t n_values,
                    struct template_value **out, struct err *err)
{
	struct template_value *root, *auto_obj, *changed, *files, *objects,
	        *list, *vals;
	struct buf id = BUF_INIT;

	*out = NULL;
	/* Go prints a types.NamespacedName through its String() method */
	if (buf_addf(&id, "%s/%s", namespace_, name) < 0)
		return err_set(err, ERR_NOMEM, "template data: out of memory");
	root = template_value_struct(d, "source.TemplateData", NULL);
	auto_obj = template_value_struct(d, "types.NamespacedName", id.ptr);
	buf_release(&id);
	template_struct_set(d, auto_obj, "Namespace",
	                    template_value_cstr(d, namespace_));
	template_struct_set(d, auto_obj, "Name", template_value_cstr(d, name));

	files = template_value_map_named(d, "map[string]update.ObjectChanges");
	objects = template_value_map_named(d, "update.ObjectChanges");
	list = template_value_list(d);
	for (size_t i = 0; changes != NULL && i < changes->n; i++) {
		const struct wb_change *c = &changes->v[i];
		struct template_value *fkey = template_value_cstr(d, c->file);
		struct template_value *oid = flux_object_id(d, c);
		struct template_value *fobj = template_map_get(files, fkey);
		struct template_value *cl;
		bool dup = false;

		if (fobj == NULL) {
			fobj = template_value_map_named(d,
			                                "update.ObjectChanges");
			template_map_set(d, files, fkey, fobj);
		}
		cl = template_map_get(fobj, oid);
		if (cl == NULL) {
			cl = template_value_list(d);
			template_map_set(d, fobj, oid, cl);
		}
		template_list_append(d, cl, flux_change(d, c));
		cl = template_map_get(objects, oid);
		if (cl == NULL) {
			cl = template_value_list(d);
			template_map_set(d, objects, oid, cl);
		}
		template_list_append(d, cl, flux_change(d, c));
		for (size_t k = 0; k < i && !dup; k++)
			dup = change_equal(&changes->v[k], c);
		if (!dup)
			template_list_append(d, list, flux_change(d, c));
	}
	changed = template_value_struct(d, "update.Result", NULL);
	template_struct_set(d, changed, "FileChanges", files);
	template_struct_set(d, changed, "Changes", list);
	template_struct_set(d, changed, "Objects", objects);
	template_struct_set_removed(d, changed, "ImageResult",
	                            FLUX_IMAGE_RESULT_HINT);

	vals = template_value_map_named(d, "map[string]string");
	for (size_t i = 0; i < n_values; i++)
		template_map_set_cstr(d, vals, values[i].key,
		                      template_value_cstr(d, values[i].value));

	template_struct_set(d, root, "AutomationObject", auto_obj);
	template_struct_set(d, root, "Changed", changed);
	template_struct_set(d, root, "Values", vals);
	template_struct_set_removed(d, root, "Updated", FLUX_UPDATED_HINT);
	if (!template_data_ok(d))
		return err_set(err, ERR_NOMEM, "template data: out of memory");
	*out = root;
	return 0;
}

/* Splits "repo/name:tag" at the tag's colon (not a registry port). */
static const char *
tag_colon(const char *v)
{
	const char *slash = strrchr(v, '/'), *colon = strrchr(v, ':');
	const char *at = strchr(v, '@');

	if (at != NULL)
		return NULL;
	if (colon == NULL || (slash != NULL && colon < slash))
		return NULL;
	return colon;
}

int
template_model_argocd(struct template_data *d, const char *app_name,
                      const struct wb_changes *changes,
                      struct template_value **out, struct err *err)
{
	struct template_value *root, *list;

	*out = NULL;
	root = template_value_struct(d, "argocd.commitMessageTemplate", NULL);
	list = template_value_list(d);
	for (size_t i = 0; changes != NULL && i < changes->n; i++) {
		const struct wb_change *c = &changes->v[i];
		struct template_value *e =
		        template_value_struct(d, "argocd.ChangeEntry", NULL);
		const char *nc = tag_colon(c->new_value);
		const char *oc = tag_colon(c->old_value);

		if (nc != NULL) {
			/* full references: image name and tags */
			template_struct_set(
			        d, e, "Image",
			        template_value_string(
			                d, c->new_value,
			                (size_t)(nc - c->new_value)));
			template_struct_set(
			        d, e, "OldTag",
			        template_value_cstr(d, oc ? oc + 1
			                                  : c->old_value));
			template_struct_set(d, e, "NewTag",
			                    template_value_cstr(d, nc + 1));
		} else {
			/* a bare tag: the setter names the image */
			template_struct_set(d, e, "Image",
			                    template_value_cstr(d, c->setter));
			template_struct_set(
			        d, e, "OldTag",
			        template_value_cstr(d, c->old_value));
			template_struct_set(
			        d, e, "NewTag",
			        template_value_cstr(d, c->new_value));
		}
		template_list_append(d, list, e);
	}
	template_struct_set(d, root, "AppName",
	                    template_value_cstr(d, app_name));
	template_struct_set(d, root, "AppChanges", list);
	if (!template_data_ok(d))
		return err_set(err, ERR_NOMEM, "template data: out of memory");
	*out = root;
	return 0;
}
