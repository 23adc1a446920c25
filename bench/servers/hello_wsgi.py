# WSGI hello world for uWSGI (bench/run-cgi.mjs): the same reply as bench/servers/tsgi-cgi.mjs.
BODY = b"Hello, World!\n"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
