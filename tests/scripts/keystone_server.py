#!/usr/bin/python3
"""A real Keystone (Debian's python3-keystone) on loopback for tests:
SQLite, fernet tokens, its config in OS_KEYSTONE_CONFIG_DIR.
    OS_KEYSTONE_CONFIG_DIR=DIR keystone_server.py PORT
"""
import sys
import wsgiref.simple_server

from keystone.server.wsgi import initialize_public_application


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    port = int(sys.argv[1])
    del sys.argv[1:]  # oslo.config parses the command line
    app = initialize_public_application()
    # Single-threaded: SQLite with threads gives "database is locked".
    server = wsgiref.simple_server.make_server("127.0.0.1", port, app,
                                               handler_class=QuietHandler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
