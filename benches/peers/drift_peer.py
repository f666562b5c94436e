"""The straightforward drift check a team would write instead of lockstep's.

It owns one question: which tracked configuration records differ between a Frappe
site (or a folder of raw REST answers) and a folder of canonical files (a checkout
of the config repo's `fixtures/app/`)? It answers with three buckets, as lockstep
does: only on the site, only in git, changed.

* `rest`: for each tracked doctype, list the names (one list request, all rows,
  ordered by name), then GET every document with 8 threads (requests, one Session per
  thread), canonicalise it, and compare it with the file.
* `raw`: read every `*.json` under a folder (a document, a list of documents, or the
  REST body `{"data": ...}`), canonicalise, compare.

Canonical form (lockstep's, PRODUCT.md section 2): identity (`doctype`, `name`) kept
at the top; Frappe's default fields, child-table links and bookkeeping keys dropped
(child rows also lose `name` and `doctype`); nulls dropped; child rows ordered by
`idx`; integral floats written as integers; keys sorted, two-space indent, trailing
newline. A record is "changed" when its canonical bytes differ from its file's.

`--orjson` parses and writes with orjson instead of the standard json module.
Prints one JSON line: the bucket sizes, the requests made and the documents read.
"""

import argparse
import hashlib
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

TRACKED = {
    # doctype: (folder, list filters)
    "DocType": ("doctypes", [["custom", "=", 1]]),
    "Custom Field": ("custom_fields", []),
    "Property Setter": ("property_setters", []),
    "Workflow": ("workflows", []),
    "Workflow State": ("workflow_states", []),
    "Workflow Action Master": ("workflow_actions", []),
    "Role": ("roles", [["name", "not in", [
        "Administrator", "Guest", "All", "Desk User", "System Manager", "Website Manager",
        "Script Manager", "Report Manager", "Workspace Manager", "Dashboard Manager",
        "Blogger", "Newsletter Manager", "Knowledge Base Contributor",
        "Knowledge Base Editor", "Inbox User", "Prepared Report User"]]]),
    "Dashboard": ("dashboards", [["is_standard", "=", 0]]),
    "Dashboard Chart": ("dashboard_charts", [["is_standard", "=", 0]]),
    "Number Card": ("number_cards", [["is_standard", "=", 0]]),
    "Report": ("reports", [["is_standard", "=", "No"]]),
    "Server Script": ("server_scripts", []),
    "Client Script": ("client_scripts", []),
    "Notification": ("notifications", [["is_standard", "=", 0]]),
    "Print Format": ("print_formats", [["standard", "=", "No"]]),
}

DEFAULT_FIELDS = {"owner", "creation", "modified", "modified_by", "docstatus", "idx"}
IDENTITY = {"name", "doctype"}
CHILD_LINKS = {"parent", "parentfield", "parenttype"}
BOOKKEEPING = {"_user_tags", "_comments", "_assign", "_liked_by", "_seen",
               "migration_hash", "last_synced_on"}

TOP, ROW, NESTED = 0, 1, 2


def dropped(key, depth):
    if key in BOOKKEEPING or key.startswith("__"):
        return True
    if key in DEFAULT_FIELDS:
        return depth != NESTED
    if key in IDENTITY or key in CHILD_LINKS:
        return depth == ROW
    return False


def normalize(value):
    if isinstance(value, dict):
        return normalize_object(value, NESTED)
    if isinstance(value, list):
        return normalize_list(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 9.0e15:
        return int(value)
    return value


def normalize_object(obj, depth):
    return {k: normalize(v) for k, v in obj.items() if v is not None and not dropped(k, depth)}


def idx_of(row):
    idx = row.get("idx")
    if isinstance(idx, (int, float)) and not isinstance(idx, bool):
        return (False, int(idx))
    return (True, 0)


def normalize_list(items):
    if items and all(isinstance(item, dict) for item in items):
        rows = sorted(items, key=idx_of)
        return [normalize_object(row, ROW) for row in rows]
    return [normalize(item) for item in items]


class Codec:
    def __init__(self, use_orjson):
        if use_orjson:
            import orjson

            self.loads = orjson.loads
            option = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
            self.dumps = lambda doc: orjson.dumps(doc, option=option) + b"\n"
        else:
            self.loads = json.loads
            self.dumps = lambda doc: (
                json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            ).encode("utf-8")


def canonical_bytes(codec, doc):
    return codec.dumps(normalize_object(doc, TOP))


def read_git(codec, folder):
    """(doctype, name) -> sha1 of the file's bytes."""
    known = {}
    for doctype, (sub, _) in TRACKED.items():
        path = os.path.join(folder, sub)
        if not os.path.isdir(path):
            continue
        for entry in sorted(os.listdir(path)):
            if not entry.endswith(".json"):
                continue
            with open(os.path.join(path, entry), "rb") as handle:
                data = handle.read()
            doc = codec.loads(data)
            known[(doc["doctype"], doc["name"])] = hashlib.sha1(data).digest()
    return known


class Drift:
    def __init__(self, git):
        self.git = git
        self.seen = set()
        self.only_on_site = []
        self.changed = []
        self.lock = threading.Lock()

    def add(self, key, data):
        digest = hashlib.sha1(data).digest()
        with self.lock:
            self.seen.add(key)
            expected = self.git.get(key)
            if expected is None:
                self.only_on_site.append(key)
            elif expected != digest:
                self.changed.append(key)

    def summary(self, **extra):
        only_in_git = [key for key in self.git if key not in self.seen]
        return dict(
            only_on_site=len(self.only_on_site),
            only_in_git=len(only_in_git),
            changed=len(self.changed),
            **extra,
        )


def run_rest(args, codec):
    import requests

    base = args.url.rstrip("/") + "/api/resource/"
    headers = {
        "Authorization": f"token {args.api_key}:{args.api_secret}",
        "Accept": "application/json",
    }
    if args.site_name:
        headers["X-Frappe-Site-Name"] = args.site_name
    git = read_git(codec, args.against)
    drift = Drift(git)
    local = threading.local()
    counter = {"requests": 0}
    count_lock = threading.Lock()

    def get(url, params=None):
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers.update(headers)
        response = session.get(url, params=params, timeout=60)
        with count_lock:
            counter["requests"] += 1
        response.raise_for_status()
        return codec.loads(response.content)

    todo = []
    for doctype, (_, filters) in TRACKED.items():
        rows = get(base + doctype, params={
            "fields": json.dumps(["name"]),
            "filters": json.dumps(filters),
            "order_by": "name asc",
            "limit_page_length": 0,
        })["data"]
        todo.extend((doctype, row["name"]) for row in rows)

    def fetch(item):
        doctype, name = item
        doc = get(base + doctype + "/" + requests.utils.quote(name, safe=""))["data"]
        drift.add((doctype, name), canonical_bytes(codec, doc))

    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        for _ in pool.map(fetch, todo):
            pass
    return drift.summary(requests=counter["requests"], documents=len(todo))


def run_raw(args, codec):
    git = read_git(codec, args.against)
    drift = Drift(git)
    documents = 0
    for root, dirs, files in os.walk(args.raw):
        dirs.sort()
        for entry in sorted(files):
            if not entry.endswith(".json"):
                continue
            with open(os.path.join(root, entry), "rb") as handle:
                value = codec.loads(handle.read())
            if isinstance(value, dict) and list(value) == ["data"]:
                value = value["data"]
            for doc in value if isinstance(value, list) else [value]:
                if doc.get("doctype") not in TRACKED:
                    continue
                documents += 1
                drift.add((doc["doctype"], doc["name"]), canonical_bytes(codec, doc))
    return drift.summary(documents=documents)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["rest", "raw"])
    parser.add_argument("--against", required=True, help="folder of canonical files")
    parser.add_argument("--url", help="the site's base URL (rest)")
    parser.add_argument("--site-name", help="X-Frappe-Site-Name to send (rest)")
    parser.add_argument("--api-key", default=os.environ.get("FRAPPE_API_KEY"))
    parser.add_argument("--api-secret", default=os.environ.get("FRAPPE_API_SECRET"))
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--raw", help="folder of raw Frappe JSON (raw)")
    parser.add_argument("--orjson", action="store_true")
    args = parser.parse_args()
    codec = Codec(args.orjson)
    summary = run_rest(args, codec) if args.mode == "rest" else run_raw(args, codec)
    print(json.dumps(summary))
    differs = summary["only_on_site"] + summary["only_in_git"] + summary["changed"]
    sys.exit(1 if differs else 0)


if __name__ == "__main__":
    main()
