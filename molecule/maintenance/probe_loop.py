#!/usr/bin/env python3
"""A bounded request loop against the sample service, run in the background while
maintenance.yml drains every node: one new connection per request, so each request is
balanced afresh. Ends when the stop file appears or after --max-seconds, then writes a JSON
summary: requests, failures (time and error), longest gap between two answered requests,
and answers per node (the probe page names the node that served it)."""

from __future__ import annotations

import argparse
import http.client
import json
import re
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--max-seconds", type=float, default=900)
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    stop = Path(args.stop_file)
    stop.unlink(missing_ok=True)
    start = time.monotonic()
    last_ok = start
    longest_gap = 0.0
    requests = 0
    failures: list[dict] = []
    served: dict[str, int] = {}
    while not stop.exists() and time.monotonic() - start < args.max_seconds:
        sent = time.monotonic()
        requests += 1
        conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            body = resp.read().decode(errors="replace")
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}: {body.strip()[:80]}")
            node = re.search(r" on (\S+)", body)
            served[node.group(1) if node else "?"] = served.get(node.group(1) if node else "?", 0) + 1
            now = time.monotonic()
            longest_gap = max(longest_gap, now - last_ok)
            last_ok = now
        except Exception as exc:
            failures.append({"at": round(sent - start, 2), "error": f"{type(exc).__name__}: {exc}"})
        finally:
            conn.close()
        time.sleep(max(0.0, args.interval - (time.monotonic() - sent)))
    summary = {"requests": requests, "failed": len(failures), "failures": failures[:50],
               "longest_gap_s": round(longest_gap, 2), "seconds": round(time.monotonic() - start, 1),
               "served_by": served, "stopped_by": "stop file" if stop.exists() else "max-seconds"}
    Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
