/*
 * The Python runtime's argument (lib/python/asgi_python.c, docs/python.md
 * "The runtime in another host"): its create() accepts every setting in any
 * order and refuses, with a message naming it, anything else. The runtime
 * is loaded as a host loads it; create() does not start Python.
 *
 * Usage: test_argument /path/to/asgi_python.so
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <asgicore.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static const asgicore_native_app *entry;

/* create() then destroy(): NULL and the message when it failed */
static int create_with(const char *argument, char *error, size_t size)
{
    int mode = -1;
    error[0] = '\0';
    void *user = entry->create(argument, &mode, error, size);
    if (!user)
        return -1;
    /* threaded, and it takes WebSockets (the runtime serves their scope) */
    assert_int_equal(mode, ASGICORE_APP_THREADED | ASGICORE_APP_WEBSOCKET);
    entry->destroy(user);
    return 0;
}

static void expect_refused(const char *argument, const char *message)
{
    char error[256];
    assert_int_equal(create_with(argument, error, sizeof error), -1);
    if (!strstr(error, message))
        fail_msg("argument \"%s\": error \"%s\" lacks \"%s\"", argument, error,
                 message);
}

static void every_setting_in_any_order(void **st)
{
    char error[256];
    assert_int_equal(create_with("app=m:a", error, sizeof error), 0);
    assert_int_equal(create_with("lifespan=off\npath=/srv/with space\n"
                                 "path=/srv/a:b\napp=pkg.mod:app\n"
                                 "shutdown_timeout=2.5\n",
                                 error, sizeof error),
                     0);
    assert_int_equal(
        create_with("\napp=m:a\n\nlifespan=on", error, sizeof error), 0);
}

static void app_is_required_and_whole(void **st)
{
    expect_refused("", "no app=module:attribute");
    expect_refused("lifespan=on", "no app=module:attribute");
    expect_refused("app=justamodule", "\"justamodule\" is not "
                                      "module:attribute");
    /* the old format: a bare reference, settings after a space */
    expect_refused("m:a\npath=/srv", "\"m:a\" is not name=value");
    expect_refused("m:a lifespan=off", "unknown setting \"m:a lifespan\"");
    char longer[600] = "app=m:";
    memset(longer + 6, 'x', 520);
    longer[526] = '\0';
    expect_refused(longer, "longer than 511 bytes");
}

static void a_setting_is_matched_by_its_whole_name(void **st)
{
    /* "path=" inside another value is not a path setting */
    expect_refused("app=m:a\nxpath=/srv", "unknown setting \"xpath\"");
    expect_refused("app=m:a\nLifespan=on", "unknown setting \"Lifespan\"");
    expect_refused("app=m:a\n=on", "unknown setting \"\"");
}

static void bad_values_are_named(void **st)
{
    expect_refused("app=m:a\nlifespan=yes", "lifespan=\"yes\": it must be "
                                            "auto, on or off");
    expect_refused("app=m:a\nlifespan=onn", "lifespan=\"onn\"");
    expect_refused("app=m:a\nlifespan=", "lifespan=\"\"");
    expect_refused("app=m:a\nshutdown_timeout=soon", "shutdown_timeout=");
    expect_refused("app=m:a\nshutdown_timeout=-1", "from 0 to 86400");
    expect_refused("app=m:a\nshutdown_timeout=5s", "shutdown_timeout=");
    expect_refused("app=m:a\nshutdown_timeout=nan", "from 0 to 86400");
    expect_refused("app=m:a\nserver=", "server=: from 1 to 63 bytes");
    char server[100] = "app=m:a\nserver=";
    memset(server + 16, 'n', 64);
    expect_refused(server, "server=: from 1 to 63 bytes");
}

static void only_path_repeats(void **st)
{
    char error[256];
    expect_refused("app=m:a\napp=m:b", "app= is given twice");
    expect_refused("app=m:a\nlifespan=on\nlifespan=off",
                   "lifespan= is given twice");
    assert_int_equal(
        create_with("app=m:a\npath=/a\npath=/b\npath=/a", error, sizeof error),
        0);
}

static void a_short_error_buffer_is_respected(void **st)
{
    char error[8];
    memset(error, 'x', sizeof error);
    assert_int_equal(
        create_with("app=m:a\nlifespan=sometimes", error, sizeof error), -1);
    assert_int_equal(strlen(error), sizeof error - 1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s asgi_python.so\n", argv[0]);
        return 2;
    }
    void *dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!dl || !(entry = dlsym(dl, ASGICORE_NATIVE_APP_SYMBOL))) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_setting_in_any_order),
        cmocka_unit_test(app_is_required_and_whole),
        cmocka_unit_test(a_setting_is_matched_by_its_whole_name),
        cmocka_unit_test(bad_values_are_named),
        cmocka_unit_test(only_path_repeats),
        cmocka_unit_test(a_short_error_buffer_is_respected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
