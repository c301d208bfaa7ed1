"""The installation token of a GitHub App, asked for as actions/create-github-app-token does:
an RS256 JWT of the App (iss = the App id, 10 minutes at most); with it, ``GET
/repos/OWNER/REPO/installation`` for the current repository (the action's default without
``owner`` and ``repositories``, which this stand-in does not take), then ``POST
/app/installations/ID/access_tokens`` for that repository and the permissions asked.
Writes ``token``, ``installation-id`` and ``app-slug`` to ``$GITHUB_OUTPUT``; masks the token."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request

import jwt  # PyJWT


def call(method: str, url: str, bearer: str, body: dict[str, object] | None = None) -> dict[str, object]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {bearer}", "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "actions/create-github-app-token (test stand-in)"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        sys.exit(f"::error::{method} {url}: {e.code} {e.read().decode(errors='replace')}")


def main() -> None:
    env = os.environ
    api = env["API_URL"].rstrip("/")
    now = int(time.time())
    app_jwt = jwt.encode({"iat": now - 30, "exp": now - 30 + 600, "iss": env["APP_ID"]}, env["PRIVATE_KEY"],
                         algorithm="RS256")
    owner, _, repo = env["GITHUB_REPOSITORY"].partition("/")  # the token is for this repository only
    installation = call("GET", f"{api}/repos/{owner}/{repo}/installation", app_jwt)
    # permission-<name> inputs reach the script as PERMISSION_<NAME> (action.yml)
    permissions = {k[len("PERMISSION_"):].lower(): v for k, v in env.items() if k.startswith("PERMISSION_") and v}
    body: dict[str, object] = {"repositories": [repo]}
    if permissions:
        body["permissions"] = permissions
    token = call("POST", f"{api}/app/installations/{installation['id']}/access_tokens", app_jwt, body)["token"]
    print(f"::add-mask::{token}")
    with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
        out.write(f"token={token}\ninstallation-id={installation['id']}\napp-slug={installation['app_slug']}\n")


if __name__ == "__main__":
    main()
