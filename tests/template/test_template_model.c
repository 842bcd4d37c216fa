/*
 * test_template_model.c - unit tests of the commit message data models
 * (writeback/template_model.h): Flux's and Argo CD Image Updater's
 * template data built from a write-back's change list, rendered through
 * the template library, and their default messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "writeback/template_model.h"

static void
flux_changes(struct wb_changes *list)
{
	struct wb_change c = { "deploy.yaml",
		               7,
		               "apps/v1",
		               "Deployment",
		               "",
		               "test",
		               "helloworld:1.0.0",
		               "helloworld:1.0.1",
		               "automation-ns:policy" };

	assert_int_equal(wb_changes_add(list, &c), 0);
	assert_int_equal(wb_changes_add(list, &c), 0);
}

static char *
render_model(const char *src, bool flux, bool sprig, int *rc, struct err *err)
{
	struct wb_changes list = WB_CHANGES_INIT;
	struct template_data *d = NULL;
	struct template_value *root = NULL;
	struct template *t = NULL;
	struct buf b = BUF_INIT;
	static const struct template_kv values[] = { { "team", "blue" } };

	flux_changes(&list);
	assert_int_equal(template_data_new(&d), 0);
	if (flux)
		assert_int_equal(template_model_flux(d, "test-ns",
		                                     "test-update", &list,
		                                     values, 1, &root, err),
		                 0);
	else
		assert_int_equal(template_model_argocd(d, "guestbook", &list,
		                                       &root, err),
		                 0);
	assert_int_equal(template_parse(&t, src, strlen(src), sprig, err), 0);
	*rc = template_execute(t, root, &b, err);
	template_free(t);
	template_data_free(d);
	wb_changes_release(&list);
	return buf_detach(&b);
}

static void
test_template_model__renders_flux_data_as_flux_does(void **state)
{
	static const char src[] =
	        "Automation: {{ .AutomationObject }}\n"
	        "{{ range $filename, $objects := .Changed.FileChanges -}}\n"
	        "- File: {{ $filename }}\n"
	        "{{- range $resource, $changes := $objects }}\n"
	        "  - Object: {{ $resource.Kind }}/{{ $resource.Namespace }}/"
	        "{{ $resource.Name }}\n"
	        "{{- range $changes }}\n"
	        "    - {{ .OldValue }} -> {{ .NewValue }}\n"
	        "{{- end }}{{ end }}{{ end }}\n"
	        "{{ len .Changed.Changes }} {{ len .Changed.Objects }} "
	        "{{ .AutomationObject.Namespace }} {{ .Values.team }}";
	struct err err = ERR_INIT;
	int rc;
	char *out = render_model(src, true, true, &rc, &err);

	(void)state;
	assert_int_equal(rc, 0);
	assert_string_equal(out, "Automation: test-ns/test-update\n"
	                         "- File: deploy.yaml\n"
	                         "  - Object: Deployment//test\n"
	                         "    - helloworld:1.0.0 -> helloworld:1.0.1\n"
	                         "    - helloworld:1.0.0 -> helloworld:1.0.1\n"
	                         "1 1 test-ns blue");
	free(out);
}

static void
test_template_model__renders_the_seed_flux_message_template(void **state)
{
	static const char src[] = "chore(image): update images\n"
	                          "Automated image update:\n"
	                          "{{range .Changed.Changes}}\n"
	                          "- {{.OldValue}} -> {{.NewValue}}\n"
	                          "{{end}}\n";
	struct err err = ERR_INIT;
	int rc;
	char *out = render_model(src, true, true, &rc, &err);

	(void)state;
	assert_int_equal(rc, 0);
	assert_string_equal(out, "chore(image): update images\n"
	                         "Automated image update:\n"
	                         "\n"
	                         "- helloworld:1.0.0 -> helloworld:1.0.1\n"
	                         "\n");
	free(out);
}

static void
test_template_model__fails_on_removed_flux_fields_naming_the_replacement(
        void **state)
{
	struct err err = ERR_INIT;
	int rc;
	char *out = render_model("{{ .Updated }}", true, true, &rc, &err);

	(void)state;
	assert_true(rc < 0);
	assert_non_null(strstr(err.msg, "use .Changed instead"));
	free(out);
	out = render_model("{{ .Changed.ImageResult }}", true, true, &rc, &err);
	assert_true(rc < 0);
	assert_non_null(strstr(err.msg, "use .Changed.Changes instead"));
	free(out);
}

static void
test_template_model__renders_argocd_default_message(void **state)
{
	struct err err = ERR_INIT;
	int rc;
	char *out = render_model(TEMPLATE_ARGOCD_DEFAULT_TEMPLATE, false, false,
	                         &rc, &err);

	(void)state;
	assert_int_equal(rc, 0);
	assert_string_equal(out, "build: automatic update of guestbook\n\n"
	                         "updates image helloworld tag '1.0.0' to "
	                         "'1.0.1'\n"
	                         "updates image helloworld tag '1.0.0' to "
	                         "'1.0.1'\n");
	free(out);
}

static void
test_template_model__names_the_flux_default_message(void **state)
{
	(void)state;
	assert_string_equal(TEMPLATE_FLUX_DEFAULT_MESSAGE,
	                    "Update from image update automation");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_template_model__renders_flux_data_as_flux_does),
		cmocka_unit_test(
		        test_template_model__renders_the_seed_flux_message_template),
		cmocka_unit_test(
		        test_template_model__fails_on_removed_flux_fields_naming_the_replacement),
		cmocka_unit_test(
		        test_template_model__renders_argocd_default_message),
		cmocka_unit_test(
		        test_template_model__names_the_flux_default_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
