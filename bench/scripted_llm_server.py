#!/usr/bin/env python3
"""A scripted OpenAI-compatible chat-completions server for pipeline benchmarks (stdlib only).

Each reply takes a random 2-10 s (like a real model), and is built from the parent kernel found
in the prompt: most replies are valid SEARCH/REPLACE edits (a kevo:param default moved to
another of its choices, or a note added inside the EVOLVE-BLOCK, so every child is a new
program that compiles), some are blocks that do not match, some are garbage. It measures how
well kevo keeps the GPU busy while the LLM is slow; it says nothing about model quality.

  python3 bench/scripted_llm_server.py --port 8765 --min-delay 2 --max-delay 10
  kevo run configs/quickstart.yaml --llm-url http://127.0.0.1:8765/v1 --llm-model scripted
"""
import argparse
import json
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PARAM_RE = re.compile(r"^(//\s*kevo:param\s+(\w+)\s*=\s*)(-?\d+)(\s+in\s+\{([^}]*)\})", re.M)
FENCE_RE = re.compile(r"```(?:cuda|cpp|c\+\+)?\n(.*?)```", re.S)

counter = 0
lock = threading.Lock()


def parent_source(prompt):
    blocks = FENCE_RE.findall(prompt)
    return max(blocks, key=len) if blocks else ""


def make_reply(prompt, rng, garbage_share):
    global counter
    with lock:
        counter += 1
        n = counter
    src = parent_source(prompt)
    roll = rng.random()
    if garbage_share is not None:
        # A bad model: this share of replies is prose or a block that matches nothing.
        if roll < garbage_share / 2 or not src:
            return "I think the kernel is already optimal."
        if roll < garbage_share:
            return "<<<<<<< SEARCH\n    this line is not in the parent\n=======\n    x\n>>>>>>> REPLACE\n"
        roll = 0.16 + (roll - garbage_share) / (1 - garbage_share) * 0.84
    if roll < 0.08 or not src:
        return "I think the kernel is already optimal."
    if roll < 0.16:
        return "<<<<<<< SEARCH\n    this line is not in the parent\n=======\n    x\n>>>>>>> REPLACE\n"
    lines = src.splitlines()
    start = next((i for i, l in enumerate(lines) if "EVOLVE-BLOCK-START" in l), None)
    end = next((i for i, l in enumerate(lines) if "EVOLVE-BLOCK-END" in l), None)
    # kevo:param lines inside the block (or anywhere without one) may change: move a default.
    block_text = "\n".join(lines[start + 1:end]) if start is not None and end is not None else src
    params = [m for m in PARAM_RE.finditer(block_text)]
    if params and roll < 0.7:
        m = rng.choice(params)
        choices = [c.strip() for c in m.group(5).split(",") if c.strip()]
        others = [c for c in choices if c != m.group(3)]
        if others:
            new = m.group(1) + rng.choice(others) + m.group(4)
            return f"<<<<<<< SEARCH\n{m.group(0)}\n=======\n{new}\n>>>>>>> REPLACE\n"
    if start is None or end is None:  # no EVOLVE-BLOCK: the whole file is editable
        start, end = -1, len(lines)
    # A note after a line that occurs once, strictly inside the block: a new program that
    # compiles to the same code.
    inside = [l for l in lines[start + 1:end] if l.strip() and lines.count(l) == 1]
    if inside:
        line = rng.choice(inside)
        return (f"<<<<<<< SEARCH\n{line}\n=======\n{line}\n// variant {n}: same code, new note\n"
                ">>>>>>> REPLACE\n")
    return "no idea"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        prompt = "\n".join(m.get("content", "") for m in body.get("messages", [])
                           if isinstance(m.get("content"), str))
        rng = random.Random()
        time.sleep(rng.uniform(self.server.min_delay, self.server.max_delay))
        # The first user message holds the program; a retry's later turns are about the reply.
        first_user = next((m.get("content", "") for m in body.get("messages", [])
                           if m.get("role") == "user" and isinstance(m.get("content"), str)), prompt)
        text = make_reply(first_user, rng, self.server.garbage_share)
        reply = {
            "id": "scripted", "object": "chat.completion", "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(text) // 4},
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--min-delay", type=float, default=2.0)
    ap.add_argument("--max-delay", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=900, help="exit after this long")
    ap.add_argument("--garbage-share", type=float, default=None,
                    help="share of replies that are prose or a block matching nothing (a bad model)")
    a = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    server.min_delay, server.max_delay = a.min_delay, a.max_delay
    server.garbage_share = a.garbage_share
    threading.Timer(a.seconds, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
