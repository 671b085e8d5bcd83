#!/usr/bin/python3
"""A real Barbican API (Debian's barbican-api) on loopback for tests: no
Keystone (the project comes from the X-Project-Id header), SQLite, the
simple_crypto plugin. Barbican reads HOME/.barbican/barbican.conf at import
time, so the caller sets HOME to the server's directory.
    HOME=DIR barbican_server.py DIR PORT [CERT KEY]
With CERT and KEY (PEM files) it serves HTTPS.
"""
import ssl
import sys
import wsgiref.simple_server

from paste.deploy import loadapp


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    directory, port = sys.argv[1], int(sys.argv[2])
    app = loadapp("config:" + directory + "/barbican-api-paste.ini")
    # Single-threaded: SQLite with threads gives "database is locked".
    server = wsgiref.simple_server.make_server("127.0.0.1", port, app,
                                               handler_class=QuietHandler)
    if len(sys.argv) > 4:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
