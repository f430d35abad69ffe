"""Every `tracker ...` command line shown in a code block of README.md or docs/*.md exists and
parses: click parses it as the CLI would (the command, every option, choice and type, the
options' own checks) and each `--set` key is one of RunConfig's, an `experiments/*.toml` named
exists; nothing runs. Placeholders such as RUN_ID or PARENT_RUN_ID are fine as arguments. A
misspelt command, option or key fails, and the last tests show it."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELLS = {"", "bash", "sh", "shell", "console"}  # code blocks that hold commands (not text, toml, python)
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.M | re.S)
OPERATORS = {"&&", "||", ";", "|", "&", "(", ")"}
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def logical_lines(block: str) -> list[str]:
    """A shell block's lines, continuations joined and heredoc bodies (python - <<'EOF') left out."""
    out, pending, until = [], "", None
    for line in block.splitlines():
        if until is not None:
            until = None if line.strip() == until else until
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        full, pending = pending + line, ""
        heredoc = re.search(r"<<-?\s*['\"]?(\w+)", full)
        until = heredoc.group(1) if heredoc else None
        out.append(full)
    return out


def tracker_argv(words: list[str]) -> list[str] | None:
    """The arguments of a simple command that runs tracker (`tracker`, `.venv/bin/tracker`,
    `python -m tracker.cli`, after any VAR=value), else None."""
    while words and ASSIGNMENT.match(words[0]):
        words = words[1:]
    if words and (words[0] == "tracker" or words[0].endswith("/tracker")):
        return words[1:]
    if words[:3] in (["python", "-m", "tracker.cli"], ["python3", "-m", "tracker.cli"]):
        return words[3:]
    return None


def commands(text: str) -> list[list[str]]:
    """Every tracker command line in the shell code blocks of a markdown page."""
    found = []
    for lang, block in FENCE.findall(text):
        if lang not in SHELLS:
            continue
        for line in logical_lines(block):
            lex = shlex.shlex(line, posix=True, punctuation_chars=True)
            lex.whitespace_split = True
            simple: list[str] = []
            for word in [*lex, ";"]:
                if word in OPERATORS:
                    argv = tracker_argv(simple)
                    if argv is not None:
                        found.append(argv)
                    simple = []
                else:
                    simple.append(word)
    return found


def parse(argv: list[str]) -> click.Context:
    """`tracker ARGV` parsed down to its command, running nothing; raises click.UsageError, or
    tracker's UserError from an option's check or a --set key."""
    from tracker.cli import main
    from tracker.config import parse_overrides

    cmd, ctx, name, args = main, None, "tracker", list(argv)
    while isinstance(cmd, click.Group) and args and not args[0].startswith("-"):
        ctx = click.Context(cmd, info_name=name, parent=ctx)
        name, cmd, args = cmd.resolve_command(ctx, args)
    parsed = cmd.make_context(name, args, parent=ctx)
    parse_overrides(parsed.params.get("sets") or ())
    for arg in argv:  # click consumes `args` as it parses
        if re.fullmatch(r"experiments/[\w.-]+\.toml", arg) and not (ROOT / arg).is_file():
            raise click.UsageError(f"{arg} does not exist")
    return parsed


def problems(text: str) -> list[str]:
    """'tracker ARGV: the error' for each command line of a page that does not parse."""
    from tracker.errors import UserError

    out = []
    for argv in commands(text):
        try:
            parse(argv)
        except (click.UsageError, UserError) as e:
            message = e.format_message() if isinstance(e, click.UsageError) else str(e)
            out.append(f"tracker {' '.join(argv)}: {message}")
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_shown_exists_and_parses(page):
    assert problems(page.read_text()) == []


def test_the_pages_show_the_everyday_commands():
    shown = {" ".join(argv[:2]) for page in PAGES for argv in commands(page.read_text())}
    assert len(shown) >= 20, sorted(shown)
    for line in ("demo --data-dir", "train experiments/mnist-demo.toml", "sweep experiments/mnist-demo.toml",
                 "compare --experiment", "report --sweep", "runs --experiment", "models register", "server --port",
                 "resume RUN_ID", "sync"):
        assert any(s.startswith(line) for s in shown), line
    readme = commands((ROOT / "README.md").read_text())
    assert ["demo", "--data-dir", "../shared/datasets"] in readme  # the set-up command's, after `&&`
    assert ["compare", "--experiment", "plain-mlflow", "--by", "model", "--metric-key", "rmse",
            "--goal", "minimize"] in readme


PAGE = """
```bash
tracker compare --experiment mnist-demo --by norm     # fine
MLFLOW_TRACKING_URI=http://h:5000 tracker compre --experiment x
tracker compare --experment mnist-demo
tracker sweep experiments/mnist-demo.toml \\
    --until-decide
tracker train experiments/mnist-demo.toml --set nrom=group
tracker compare --experiment x --format yaml
tracker sweep experiments/mnist-demos.toml
pip install -e . && .venv/bin/tracker demo --data-dir ../shared/datasets --epoch 2
python - <<'EOF'
tracker nonsense inside a heredoc is python, not a command
EOF
```

```text
tracker this is output, not a command
```
"""


def test_a_misspelt_command_option_or_key_fails():
    found = problems(PAGE)
    assert [line.split(":", 1)[0] for line in found] == [
        "tracker compre --experiment x", "tracker compare --experment mnist-demo",
        "tracker sweep experiments/mnist-demo.toml --until-decide",
        "tracker train experiments/mnist-demo.toml --set nrom=group",
        "tracker compare --experiment x --format yaml", "tracker sweep experiments/mnist-demos.toml",
        "tracker demo --data-dir ../shared/datasets --epoch 2"]
    assert "No such command 'compre'" in found[0] and "No such option '--experment'" in found[1]
    assert "did you mean 'norm'?" in found[3]


def test_placeholders_parse_and_options_are_really_read():
    ctx = parse(["compare", "--sweep", "PARENT_RUN_ID", "--margin", "0.1", "--baseline", "batch"])
    assert ctx.params["sweep_id"] == "PARENT_RUN_ID" and ctx.params["margin"] == 0.1
    assert parse(["models", "alias", "--delete", "NAME", "ALIAS"]).params["delete"] is True
    with pytest.raises(click.UsageError):
        parse(["compare", "--experiment", "x", "--margin", "a tenth"])  # a float option's type is checked
