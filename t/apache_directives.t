# mod_asgi's directives: a misplaced or malformed one fails apache2 -t,
# naming it (docs/apache.md). Apache only: t/directives.t is nginx's.
use lib 't/lib';
use Test::Asgi;
use Test::More;

plan skip_all => "mod_asgi's directives (ASGI_SERVER=apache)"
    unless server_name() eq 'apache';
run_tests();
done_testing();

__DATA__

=== TEST 1: ASGIStatus takes no argument ("off" does not turn it off)
--- apache_config
<Location /s>
    ASGIStatus off
</Location>
--- apache_must_die: ASGIStatus takes no argument

=== TEST 2: ASGIStatus at server level is refused: it would answer every URL no app serves
--- apache_config
ASGIStatus
--- apache_must_die: ASGIStatus belongs in a <Location> section

=== TEST 3: one section serves an app or the status, not both
--- apache_config
<Location /a>
    ASGINativeApp $TEST_APP
    ASGIStatus
</Location>
--- apache_must_die: ASGIStatus: this section serves an app already

=== TEST 4: ASGIPythonRuntime after an ASGIApp would be ignored: it is refused
--- apache_config
<Location /a>
    ASGIApp rawapp:app
    ASGIPythonPath $ROOT/t/apps/python
</Location>
ASGIPythonRuntime /nonexistent/asgi_python.so
--- apache_must_die: ASGIPythonRuntime must come before the first ASGIApp

=== TEST 5: ASGIApp in a <Directory> section is refused: a URL picks its app
--- apache_config
<Directory /tmp>
    ASGIApp rawapp:app
</Directory>
--- apache_must_die: ASGIApp cannot occur within <Directory> section

=== TEST 6: ASGINativeApp in an <If> section is refused
--- apache_config
<Location /a>
    <If "-n %{QUERY_STRING}">
        ASGINativeApp $TEST_APP
    </If>
</Location>
--- apache_must_die: ASGINativeApp cannot occur within <If> section

=== TEST 7: a grace period with anything after its unit is not a time
--- apache_config
<Location /a>
    ASGINativeApp $TEST_APP
    ASGIDisconnectGracePeriod 500ms5
</Location>
--- apache_must_die: ASGIDisconnectGracePeriod: "500ms5" is not a time

=== TEST 8: an app spec that is not module:attribute names the directive
--- apache_config
<Location /a>
    ASGIApp rawapp
</Location>
--- apache_must_die: ASGIApp: "rawapp" is not "module:attribute"

=== TEST 9: a valid configuration with all of them starts
--- apache_config
ASGIDisconnectGracePeriod 2s
<Location /a>
    ASGIApp rawapp:app
    ASGIPythonPath $ROOT/t/apps/python
    ASGIRootPath /a
    ASGILifespan off
    ASGIIgnoreClientAbort off
</Location>
<Location /s>
    ASGIStatus
</Location>
--- request
GET /a/hello
--- error_code: 200
--- response_body
Hello from Python

=== TEST 10: ASGIStatus in a <Directory> section is refused (it would answer for its files)
--- apache_config
<Directory /tmp>
    ASGIStatus
</Directory>
--- apache_must_die: ASGIStatus cannot occur within <Directory> section

=== TEST 11: a grace period's unit is one Apache knows, and nothing after it
--- apache_config
<Location /a>
    ASGINativeApp $TEST_APP
    ASGIDisconnectGracePeriod 2sx
</Location>
--- apache_must_die: ASGIDisconnectGracePeriod: "2sx" is not a time

=== TEST 12: ASGIPythonRuntime given twice is refused
--- apache_config
ASGIPythonRuntime $BUILD/asgi_python.so
ASGIPythonRuntime /elsewhere/asgi_python.so
--- apache_must_die: ASGIPythonRuntime is given twice
