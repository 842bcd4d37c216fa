/*
 * template_model.h - the data Flux and Argo CD Image Updater give commit
 * message templates, built from the list of changes a write-back made
 * (writeback/change.h), on top of the template library
 * (writeback/template/template.h), and their default messages.
 *
 * Ownership: every value these functions build belongs to the template_data
 * arena passed in; the change list and the values are only read.
 *
 * Thread safety: as template.h; one thread builds into an arena at a time.
 */
#ifndef FERRY_WRITEBACK_TEMPLATE_MODEL_H
#define FERRY_WRITEBACK_TEMPLATE_MODEL_H

#include <stddef.h>

#include "base/err.h"
#include "writeback/change.h"
#include "writeback/template/template.h"

/* Flux's message when no template is configured. */
#define TEMPLATE_FLUX_DEFAULT_MESSAGE "Update from image update automation"
/* Argo CD Image Updater's default template. */
#define TEMPLATE_ARGOCD_DEFAULT_TEMPLATE                                       \
	"build: automatic update of {{ .AppName }}\n"                          \
	"\n"                                                                   \
	"{{ range .AppChanges -}}\n"                                           \
	"updates image {{ .Image }} tag '{{ .OldTag }}' to '{{ .NewTag }}'\n"  \
	"{{ end -}}\n"

/*
 * Flux's template data (image-automation-controller v1 TemplateData):
 * .AutomationObject (prints "namespace/name"; .Namespace, .Name),
 * .Changed.FileChanges (file -> object identifier {APIVersion Kind Name
 * Namespace} -> list of {OldValue NewValue Setter}), .Changed.Changes (the
 * changes, deduplicated, in file then object order), .Changed.Objects
 * (object identifier -> changes, merged across files) and .Values (string
 * map, may be NULL).  The removed v1beta1 fields .Updated and
 * .Changed.ImageResult fail with a message naming the v1 replacement.
 * Values are built in d; *out owned by d.  0 or -ERR_NOMEM.
 */
struct template_kv {
	const char *key;
	const char *value;
};
int template_model_flux(struct template_data *d, const char *namespace_,
                        const char *name, const struct wb_changes *changes,
                        const struct template_kv *values, size_t n_values,
                        struct template_value **out, struct err *err);

/*
 * Argo CD Image Updater's commit message data: .AppName and .AppChanges,
 * one {Image OldTag NewTag} per change, where Image is the setter (the
 * image name the write-back edited), OldTag/NewTag the old and new values.
 * 0 or -ERR_NOMEM.
 */
int template_model_argocd(struct template_data *d, const char *app_name,
                          const struct wb_changes *changes,
                          struct template_value **out, struct err *err);

#endif
