/*
 * Unit tests for core/base/pool: every item runs once, nested and
 * concurrent batches finish, and a NULL pool runs in the caller.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "base/pool.h"

struct counts {
	atomic_int hits[1000];
	struct pool *pool;
	atomic_int nested;
};

static void
count_one(size_t i, void *payload)
{
	struct counts *c = payload;

	atomic_fetch_add(&c->hits[i], 1);
}

static void
test_pool__runs_every_item_exactly_once(void **state)
{
	static struct counts c;
	struct pool *p = NULL;
	struct err e = ERR_INIT;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(pool_new(&p, 3, &e), 0);
	assert_int_equal(pool_size(p), 3);
	pool_run(p, 1000, count_one, &c);
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(atomic_load(&c.hits[i]), 1);
	pool_free(p);
}

static void
test_pool__null_pool_runs_in_the_caller(void **state)
{
	static struct counts c;

	(void)state;
	memset(&c, 0, sizeof(c));
	pool_run(NULL, 10, count_one, &c);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(atomic_load(&c.hits[i]), 1);
	assert_int_equal(pool_size(NULL), 0);
	pool_free(NULL);
}

static void
nested_outer(size_t i, void *payload)
{
	struct counts *c = payload;
	static struct counts inner[8];

	memset(&inner[i], 0, sizeof(inner[i]));
	/* Every worker is busy with an outer item: the inner batch must be
	 * run by its caller. */
	pool_run(c->pool, 50, count_one, &inner[i]);
	for (size_t k = 0; k < 50; k++)
		if (atomic_load(&inner[i].hits[k]) == 1)
			atomic_fetch_add(&c->nested, 1);
}

static void
test_pool__a_batch_started_inside_an_item_never_deadlocks(void **state)
{
	static struct counts c;
	struct err e = ERR_INIT;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(pool_new(&c.pool, 2, &e), 0);
	pool_run(c.pool, 8, nested_outer, &c);
	assert_int_equal(atomic_load(&c.nested), 8 * 50);
	pool_free(c.pool);
}

struct caller {
	struct pool *pool;
	struct counts c;
};

static void *
caller_thread(void *arg)
{
	struct caller *k = arg;

	pool_run(k->pool, 200, count_one, &k->c);
	return NULL;
}

static void
test_pool__concurrent_callers_each_get_their_whole_batch(void **state)
{
	static struct caller k[4];
	pthread_t th[4];
	struct pool *p = NULL;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(pool_new(&p, 2, &e), 0);
	for (int t = 0; t < 4; t++) {
		memset(&k[t], 0, sizeof(k[t]));
		k[t].pool = p;
		assert_int_equal(
		        pthread_create(&th[t], NULL, caller_thread, &k[t]), 0);
	}
	for (int t = 0; t < 4; t++) {
		pthread_join(th[t], NULL);
		for (size_t i = 0; i < 200; i++)
			assert_int_equal(atomic_load(&k[t].c.hits[i]), 1);
	}
	pool_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool__runs_every_item_exactly_once),
		cmocka_unit_test(test_pool__null_pool_runs_in_the_caller),
		cmocka_unit_test(
		        test_pool__a_batch_started_inside_an_item_never_deadlocks),
		cmocka_unit_test(
		        test_pool__concurrent_callers_each_get_their_whole_batch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
