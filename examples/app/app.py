"""A guestbook with a visit counter: http.server in front, PostgreSQL behind.

GET /            the page (counts the visit, lists the entries, a form to sign)
POST /entries    adds an entry (form field or JSON key "message"), then redirects to the page
GET /entries     the entries as JSON, newest first
GET /healthz     "ok" when the database answers

The database is found by name (DATABASE_HOST, default "db") with POSTGRES_USER, POSTGRES_PASSWORD
and POSTGRES_DB; the app waits for it at start and makes its tables.
"""

from __future__ import annotations

import html
import json
import os
import signal
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

SCHEMA = """
CREATE TABLE IF NOT EXISTS visits (id integer PRIMARY KEY, count bigint NOT NULL);
INSERT INTO visits (id, count) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS entries (
    id serial PRIMARY KEY,
    message text NOT NULL,
    created timestamptz NOT NULL DEFAULT now()
);
"""


def connect() -> psycopg2.extensions.connection:
    user = os.environ.get("POSTGRES_USER", "postgres")
    return psycopg2.connect(
        host=os.environ.get("DATABASE_HOST", "db"),
        port=int(os.environ.get("DATABASE_PORT", "5432")),
        user=user,
        password=os.environ.get("POSTGRES_PASSWORD", ""),
        dbname=os.environ.get("POSTGRES_DB", user),
        connect_timeout=5,
    )


def wait_for_database(deadline: float) -> None:
    while True:
        try:
            with connect() as conn, conn.cursor() as cur:
                cur.execute(SCHEMA)
            return
        except psycopg2.OperationalError as exc:
            if time.monotonic() > deadline:
                raise
            print(f"app: waiting for the database: {str(exc).strip()}", file=sys.stderr)
            time.sleep(1)


def page(visits: int, entries: list[tuple[int, str, str]], prefix: str) -> str:
    items = "\n".join(
        f"<li>{html.escape(message)} <small>({created})</small></li>"
        for _, message, created in entries
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>guestbook</title></head>
<body>
<h1>Guestbook</h1>
<p>Visits: <span id="visits">{visits}</span></p>
<form method="post" action="{prefix}/entries">
<input name="message" placeholder="say hello"> <button>Sign</button>
</form>
<ul id="entries">
{items}
</ul>
<p>Served by app on {html.escape(os.uname().nodename)}, data in PostgreSQL.</p>
</body></html>
"""


class Handler(BaseHTTPRequestHandler):
    server_version = "guestbook/1"

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == "/healthz":
            with connect() as conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
            self.reply(200, "text/plain", b"ok\n")
        elif path == "/entries":
            body = json.dumps([{"id": i, "message": m, "created": c} for i, m, c in self.entries()])
            self.reply(200, "application/json", body.encode() + b"\n")
        elif path == "/":
            with connect() as conn, conn.cursor() as cur:
                cur.execute("UPDATE visits SET count = count + 1 WHERE id = 1 RETURNING count")
                (visits,) = cur.fetchone()
            prefix = self.headers.get("X-Forwarded-Prefix", "")
            body = page(visits, self.entries(), prefix).encode()
            self.reply(200, "text/html; charset=utf-8", body)
        else:
            self.reply(404, "text/plain", b"not found\n")

    def do_POST(self) -> None:
        if urllib.parse.urlsplit(self.path).path != "/entries":
            self.reply(404, "text/plain", b"not found\n")
            return
        message = self.message()
        if not message:
            self.reply(400, "text/plain", b"message is empty\n")
            return
        with connect() as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO entries (message) VALUES (%s) RETURNING id", (message,))
            (entry_id,) = cur.fetchone()
        self.send_response(303)
        self.send_header("Location", self.headers.get("X-Forwarded-Prefix", "") + "/")
        self.send_header("Content-Type", "application/json")
        body = json.dumps({"id": entry_id, "message": message}).encode() + b"\n"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def message(self) -> str:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0") or "0")).decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            return str(json.loads(raw or "{}").get("message", "")).strip()
        return urllib.parse.parse_qs(raw).get("message", [""])[0].strip()

    def entries(self) -> list[tuple[int, str, str]]:
        with connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT id, message, created::text FROM entries ORDER BY id DESC LIMIT 50")
            return list(cur.fetchall())

    def reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    # PID 1 gets no default signal actions: exit on SIGTERM and SIGINT ourselves
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    wait_for_database(time.monotonic() + float(os.environ.get("DATABASE_WAIT", "120")))
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8000"))), Handler)
    server.daemon_threads = True
    print(f"app: listening on port {server.server_port}", file=sys.stderr)
    server.serve_forever()


if __name__ == "__main__":
    main()
