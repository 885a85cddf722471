#!/usr/bin/env python3
"""A sign-in hook for mobile-sessiond: admits the e-mails of a list.

    [policy]
    hook = ["/etc/mobile-sessiond/allow-list.py", "/etc/mobile-sessiond/allowed.txt"]

The list has one e-mail per line, optionally followed by "pending" (the
device must then be accepted by an administrator), then optionally by the
user's display name; "#" starts a comment:

    ana@example.com
    li.wei@example.com  pending  Li Wei

The daemon writes the sign-in request on standard input (the body the app
posted to $authenticate, password included) with "session" set to what the
server knows of the session: {"id": ..., "ip": ..., "status": ...}, its id,
the IP the front saw (or null) and its stored status ("accepted",
"pending", or null for a device signing in for the first time). It reads
one JSON object on standard output:

    {"success": true|false, "statusText": "...", "userInfo": {...}, "verify": true|false}

The answer wins over the stored status, so this hook keeps a device's
stored status when it signs in again: an administrator's `accept` or hold
(`set-status pending`) sticks. Anything else (a crash, a non-zero exit, no
answer in time) refuses the sign-in. What goes to standard error ends up in
the daemon's log.
"""

import json
import sys


def answer(**fields):
    json.dump(fields, sys.stdout)
    sys.stdout.write("\n")


def main():
    if len(sys.argv) != 2:
        print("usage: allow-list.py ALLOWED_FILE", file=sys.stderr)
        return 2
    request = json.load(sys.stdin)
    email = str(request.get("email") or "").strip().lower()
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if not words or words[0].lower() != email:
                continue
            listed_pending = len(words) > 1 and words[1] == "pending"
            name = " ".join(words[2:] if listed_pending else words[1:]) or email.split("@")[0]
            app = request.get("application") or {}
            stored = (request.get("session") or {}).get("status")
            # A new device as the list says; a known one as it is stored.
            pending = listed_pending if stored is None else stored == "pending"
            answer(
                success=True,
                statusText=f"Welcome, {name}.",
                userInfo={"email": email, "name": name, "app": app.get("id")},
                verify=pending,
            )
            return 0
    print("refused an e-mail that is not on the list", file=sys.stderr)
    answer(success=False, statusText="This e-mail address is not on the list.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
