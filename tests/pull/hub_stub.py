#!/usr/bin/env python3
"""hub_stub.py - a stand-in for the Hugging Face Hub on 127.0.0.1, for the
chord pull tests (no network here). It answers the requests chord pull makes
as the Hub does:

  GET /api/models/OWNER/NAME/refs             {"branches":[{"name":"main","targetCommit":C}]}
  GET /api/models/OWNER/NAME/revision/main    {"sha": C, "siblings": [...]}
  GET /api/models/OWNER/NAME/tree/C?recursive=true
                                              [{"type":"file","path","size","oid","lfs":{"oid":sha256,"size"}}]
                                              (paged with Link: <...>; rel="next" when page_size is set)
  GET /OWNER/NAME/resolve/C/PATH              .gguf: 302 to /cdn/OWNER/NAME/PATH (the Hub sends LFS
                                              files to its CDN); other files: the bytes, ETag = git oid
  GET /cdn/OWNER/NAME/PATH                    the bytes, with Range (206 + Content-Range)
  GET /files/PATH                             ROOT/_plain/PATH, a server that is not the Hub

Repos are folders ROOT/OWNER/NAME/ (dot files are not part of the repo). The
commit is sha1 of "OWNER/NAME" plus the file names and sizes, so a changed
fixture is a new commit. ROOT/OWNER/NAME/.token holds the token the repo
requires (401 without it, as a private repo); .gated makes it gated (401
GatedRepo without a token, 403 GatedRepo with one). A missing repo is 404
RepoNotFound, a missing file 404 EntryNotFound.

Faults, from ROOT/mode.json, read at every request so a test can change them
between two pulls (all optional):
  {"drop_after": N, "drops": K}  the first K file bodies close the connection after N bytes
  {"corrupt": true}              one byte in the middle of each file body is flipped
  {"crawl": B}                   file bodies at B bytes per second
  {"no_range": true}             Range is ignored (200 and the whole file)
  {"status": S}                  every request answers S
  {"page_size": N}               tree pages of N entries
  {"fake_size": N}               the tree says every .gguf file has N bytes

Every request is logged to ROOT/log.jsonl: {"path", "range", "status", "sent",
"auth"} (sent = body bytes written), so a test can assert what was asked.

usage: hub_stub.py ROOT PORT_FILE   (listens on an ephemeral port, writes it to PORT_FILE)
"""
import hashlib
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = None  # set by main(); the module is also imported by the tests for commit_of
LOCK = threading.Lock()
DROPS_DONE = [0]


def mode():
    try:
        with open(os.path.join(ROOT, "mode.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def log(entry):
    with LOCK:
        with open(os.path.join(ROOT, "log.jsonl"), "a") as f:
            f.write(json.dumps(entry) + "\n")


def repo_files(repo_dir):
    """Relative paths of the repo's files, sorted, dot files left out."""
    out = []
    for dirpath, dirnames, filenames in os.walk(repo_dir):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            if not fn.startswith("."):
                out.append(os.path.relpath(os.path.join(dirpath, fn), repo_dir))
    return sorted(out)


def commit_of(repo, repo_dir):
    h = hashlib.sha1(repo.encode())
    for p in repo_files(repo_dir):
        h.update(("%s %d\n" % (p, os.path.getsize(os.path.join(repo_dir, p)))).encode())
    return h.hexdigest()


def git_oid(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_lfs(path):
    return path.endswith(".gguf")


class Hub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # the log file says enough
        pass

    def answer(self, status, body=b"", headers=None, ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.entry.update(status=status, sent=len(body))

    def error(self, status, code, message):
        self.answer(status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message})

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        self.entry = {"path": path, "query": url.query, "range": self.headers.get("Range"),
                      "auth": self.headers.get("Authorization"), "status": 0, "sent": 0}
        try:
            self.route(path, urllib.parse.parse_qs(url.query))
        except (BrokenPipeError, ConnectionResetError):
            self.entry["status"] = self.entry["status"] or -1
        finally:
            log(self.entry)

    def route(self, path, query):
        m = mode()
        if "status" in m:
            return self.error(m["status"], "Forced", "forced status %d" % m["status"])
        parts = path.strip("/").split("/")
        if parts[0] == "files":
            return self.serve_file(os.path.join(ROOT, "_plain", *parts[1:]), m, {})
        if parts[0] == "cdn" and len(parts) >= 4:
            return self.serve_file(os.path.join(ROOT, parts[1], parts[2], *parts[3:]), m, {})
        api = parts[0] == "api" and len(parts) >= 5 and parts[1] == "models"
        owner, name = (parts[2], parts[3]) if api else (parts[0], parts[1] if len(parts) > 1 else "")
        repo = owner + "/" + name
        repo_dir = os.path.join(ROOT, owner, name)
        if owner.startswith(("_", ".")) or not os.path.isdir(repo_dir):
            return self.error(404, "RepoNotFound", "Repository not found")
        if not self.authorized(repo, repo_dir):
            return
        commit = commit_of(repo, repo_dir)
        if api and parts[4] == "refs":
            return self.answer(200, {"branches": [{"name": "main", "ref": "refs/heads/main",
                                                   "targetCommit": commit}],
                                     "tags": [], "converts": []})
        if api and parts[4] == "revision":
            return self.answer(200, {"id": repo, "sha": commit,
                                     "siblings": [{"rfilename": p} for p in repo_files(repo_dir)]})
        if api and parts[4] == "tree" and len(parts) >= 6:
            if parts[5] not in (commit, "main"):
                return self.error(404, "RevisionNotFound", "Invalid rev id: " + parts[5])
            return self.tree(repo, repo_dir, query, m)
        if not api and len(parts) >= 5 and parts[2] == "resolve":
            if parts[3] not in (commit, "main"):
                return self.error(404, "RevisionNotFound", "Invalid rev id: " + parts[3])
            rel = "/".join(parts[4:])
            fpath = os.path.join(repo_dir, *parts[4:])
            if rel.startswith(".") or not os.path.isfile(fpath):
                return self.error(404, "EntryNotFound", "Entry not found")
            with open(fpath, "rb") as f:
                data = f.read()
            hdr = {"X-Repo-Commit": commit}
            if is_lfs(rel):
                hdr.update({"Location": "/cdn/%s/%s" % (repo, urllib.parse.quote(rel)),
                            "X-Linked-Etag": '"%s"' % hashlib.sha256(data).hexdigest(),
                            "X-Linked-Size": str(len(data))})
                return self.answer(302, b"", hdr)
            hdr["ETag"] = '"%s"' % git_oid(data)
            return self.serve_file(fpath, m, hdr)
        return self.error(404, "EntryNotFound", "no such endpoint")

    def authorized(self, repo, repo_dir):
        auth = self.headers.get("Authorization") or ""
        tok_file = os.path.join(repo_dir, ".token")
        if os.path.exists(tok_file):
            want = open(tok_file).read().strip()
            if auth != "Bearer " + want:
                self.error(401, "RepoNotFound", "Invalid username or password.")
                return False
        if os.path.exists(os.path.join(repo_dir, ".gated")):
            if not auth:
                self.error(401, "GatedRepo", "Access to model %s is restricted." % repo)
            else:
                self.error(403, "GatedRepo", "Access to model %s is restricted and you are not "
                           "in the authorized list." % repo)
            return False
        return True

    def tree(self, repo, repo_dir, query, m):
        entries, dirs = [], set()
        for p in repo_files(repo_dir):
            d = os.path.dirname(p)
            while d and d not in dirs:
                dirs.add(d)
                entries.append({"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(),
                                "size": 0, "path": d})
                d = os.path.dirname(d)
            with open(os.path.join(repo_dir, p), "rb") as f:
                data = f.read()
            e = {"type": "file", "oid": git_oid(data), "size": len(data), "path": p}
            if is_lfs(p):
                e["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                            "pointerSize": 134}
            if is_lfs(p) and "fake_size" in m:
                e["size"] = e["lfs"]["size"] = int(m["fake_size"])
            entries.append(e)
        if "recursive" not in query:
            entries = [e for e in entries if "/" not in e["path"]]
        page = int(m.get("page_size", 0))
        start = int(query.get("cursor", ["0"])[0])
        hdr = {}
        if page:
            if start + page < len(entries):
                nxt = "/api/models/%s/tree/%s?recursive=true&cursor=%d" % (
                    repo, self.path.split("/tree/")[1].split("?")[0], start + page)
                hdr["Link"] = '<http://%s%s>; rel="next"' % (self.headers.get("Host"), nxt)
            entries = entries[start:start + page]
        return self.answer(200, entries, hdr)

    def serve_file(self, fpath, m, hdr):
        if not os.path.isfile(fpath):
            return self.error(404, "EntryNotFound", "Entry not found")
        with open(fpath, "rb") as f:
            data = f.read()
        total = len(data)
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng and not m.get("no_range"):
            first = rng.split("=", 1)[1].split("-", 1)[0]
            start = int(first)
            if start >= total:
                hdr["Content-Range"] = "bytes */%d" % total
                return self.answer(416, b"", hdr, "text/plain")
            status = 206
            hdr["Content-Range"] = "bytes %d-%d/%d" % (start, total - 1, total)
        body = bytearray(data[start:])
        if m.get("corrupt") and total:
            mid = total // 2 - start
            if 0 <= mid < len(body):
                body[mid] ^= 0xFF
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        for k, v in hdr.items():
            self.send_header(k, v)
        self.end_headers()
        self.entry["status"] = status
        limit = len(body)
        drop = False
        with LOCK:
            if "drop_after" in m and DROPS_DONE[0] < int(m.get("drops", 1)):
                DROPS_DONE[0] += 1
                limit = min(limit, int(m["drop_after"]))
                drop = True
        rate = float(m.get("crawl", 0))
        chunk = 4096 if rate else 65536
        sent = 0
        while sent < limit:
            n = min(chunk, limit - sent)
            self.wfile.write(body[sent:sent + n])
            self.wfile.flush()
            sent += n
            self.entry["sent"] = sent
            if rate:
                time.sleep(n / rate)
        if drop:
            # The connection dies with bytes still owed: what a client sees
            # when a network drops mid-file.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)


def main():
    global ROOT
    ROOT = sys.argv[1]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    srv.daemon_threads = True
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, sys.argv[2])
    srv.serve_forever()


if __name__ == "__main__":
    main()
