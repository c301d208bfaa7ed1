"""gateway-release.yml runs coverage against the pushed image, for the console of the same
Higress release, with arguments the CLI accepts; a miss warns, bad input notes the manual step."""

from __future__ import annotations

import shlex

from sync.cli import build_parser
from tests.workflows.workflows import load


def test_the_pushed_image_is_checked_against_the_console_of_its_higress_release() -> None:
    wf = load("gateway-release.yml")
    steps = wf.jobs["image"]["steps"]
    step = next(s for s in steps if "plugin-sync coverage" in s.get("run", ""))
    assert step["if"] == "steps.plan.outputs.action == 'build'"
    build = next(s for s in steps if s.get("id") == "build")
    assert steps.index(build) < steps.index(step)
    assert step["env"]["DIGEST"] == "${{ steps.build.outputs.digest }}"
    assert step["env"]["CONSOLE_REF"] == "${{ inputs.console_ref || 'auto' }}"
    assert wf.on["workflow_dispatch"]["inputs"]["console_ref"]["default"] == "auto"
    run = step["run"]
    assert '"$REGISTRY/$IMAGE_NAME@$DIGEST"' in run  # the image just pushed, by digest
    line = run[run.index("plugin-sync coverage"):].split(">")[0].replace("\\\n", " ")
    args = build_parser().parse_args(shlex.split(line)[1:])
    assert (args.command, args.console_ref, args.snapshot.name, args.url) == (
        "coverage", "$CONSOLE_REF", "$SNAPSHOT", "http://127.0.0.1:18080")
    assert "1) echo \"::warning::" in run and "2) echo \"::notice::" in run and '*) exit "$rc"' in run
