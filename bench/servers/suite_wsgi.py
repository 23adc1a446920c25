# The suite's app (bench/servers/suite-app.mjs) as WSGI, for uWSGI over HTTP,
# uwsgi, SCGI and FastCGI: the same routes and bytes as every other server.
import json

HELLO = b"Hello, World!\n"
BODY_16K = b"x" * 16384
BODY_1M = b"x" * 1048576
USER_PREFIX = "/api/users/"


def reply(start_response, body, ctype="text/plain"):
    start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    uri = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    if uri == "/":
        return reply(start_response, HELLO)
    if uri == "/16k":
        return reply(start_response, BODY_16K)
    if uri == "/1m":
        return reply(start_response, BODY_1M)
    if uri == "/echo":
        n = int(environ.get("CONTENT_LENGTH") or 0)
        return reply(start_response, str(len(environ["wsgi.input"].read(n))).encode())
    if uri.startswith(USER_PREFIX):
        i = int(uri[len(USER_PREFIX):])
        body = json.dumps({"id": i, "name": "User %d" % i, "email": "user%d@example.com" % i,
                           "roles": ["admin", "dev"], "active": True}, separators=(",", ":")).encode()
        return reply(start_response, body, "application/json")
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
    return [b"not found\n"]
