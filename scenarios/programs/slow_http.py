"""An HTTP server whose every answer takes a minute: the client's request
is read and acknowledged, then the connection is idle, as behind a slow
backend. Serves on the address and port given; prints "listening" when it
accepts. Used by the curl scenarios of this folder."""
import http.server
import socket
import sys
import time


class Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(60)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class Server(http.server.HTTPServer):
    address_family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET


server = Server((sys.argv[1], int(sys.argv[2])), Slow)
print("listening", flush=True)
server.serve_forever()
