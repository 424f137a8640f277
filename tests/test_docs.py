"""The docs are a manual people follow: every setting, command, link and example in them must hold."""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.core
import typer.main
from pydantic import SecretStr

from connectors.line import load_line
from copilot.cli import app
from copilot.settings import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = (
    "architecture",
    "cli",
    "configuration",
    "line-definition",
    "action-pipeline",
    "alarms",
    "copilot",
    "console",
    "knowledge",
    "benchmarks",
    "development",
)
README_MAX_LINES = 140
# Variables the code reads that are not settings; each must still be read somewhere (checked below).
OTHER_VARIABLES = {
    "COPILOT_CONFIG",
    "COPILOT_PASSWORD",
    "COPILOT_NEW_PASSWORD",
    "COPILOT_STATEFUL_EXAMPLES",
    "COPILOT_STATEFUL_STEPS",
    "COPILOT_BENCH_POSTGRES_URL",
}
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
# The docs' code blocks show at least this many `copilot` lines; fewer means the extractor stopped finding them.
FEWEST_COMMAND_LINES = 40


def setting_variables() -> set[str]:
    return {f"COPILOT_{name.upper()}" for name in Settings.model_fields}


def doc_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def text_of(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


# ---------------------------------------------------------------------------------------------------------------
# Reading Markdown: fenced blocks, prose, links and headings


@dataclass(frozen=True, kw_only=True)
class Block:
    """One fenced code block: its language and body, and where its opening fence stands."""

    path: Path
    line: int
    language: str
    body: str


FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")


def fenced_blocks(path: Path, text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, language, start, body = opening.group(1), opening.group(2).lower(), i + 1, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        blocks.append(Block(path=path, line=start, language=language, body="\n".join(body)))
        i += 1
    return blocks


def prose(text: str, *, code_spans: bool = False) -> str:
    """The text with fenced blocks (and inline code, unless kept) blanked out, line numbers kept."""
    kept: list[str] = []
    inside: str | None = None
    for line in text.splitlines():
        opening = FENCE.match(line)
        if inside is None and opening is not None:
            inside = opening.group(1)
            kept.append("")
        elif inside is not None:
            if line.strip().startswith(inside):
                inside = None
            kept.append("")
        else:
            kept.append(line if code_spans else re.sub(r"`[^`]*`", "``", line))
    return "\n".join(kept)


INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
AUTOLINK = re.compile(r"<([a-z][a-z0-9+.-]*:[^>\s]+)>", re.IGNORECASE)
BARE_URL = re.compile(r"(?<![\w(<])((?:https?|ftp)://[^\s)>\]]+)", re.IGNORECASE)
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
PARENT_PATH = re.compile(r"(?<![\w./-])((?:\.\./)+[\w./-]+)")


def link_targets(text: str) -> list[tuple[int, str]]:
    """Every link a reader can follow: inline, reference, autolinks and bare URLs, with their line numbers."""
    found: list[tuple[int, str]] = []
    for number, line in enumerate(prose(text).splitlines(), start=1):
        for pattern in (INLINE_LINK, REFERENCE_LINK, AUTOLINK, BARE_URL):
            found.extend((number, match.group(1)) for match in pattern.finditer(line))
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    for line in prose(text, code_spans=True).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading is not None:
            base = slug(heading.group(1))
            seen[base] = seen.get(base, 0) + 1
    return {base if i == 0 else f"{base}-{i}" for base, n in seen.items() for i in range(n)}


TOP_LEVEL = (
    "app.py",
    "console/",
    "copilot/",
    "connectors/",
    "knowledge/",
    "evals/",
    "tests/",
    "tools/",
    "docs/",
    ".ci/",
)
CODE_SPAN = re.compile(r"`([^`\s]+)`")


def path_problems(path: Path, text: str) -> list[str]:
    """Files and folders of the repository named in code (`copilot/pipeline/executor.py`) that do not exist."""
    problems = []
    for number, line in enumerate(prose(text, code_spans=True).splitlines(), start=1):
        for match in CODE_SPAN.finditer(line):
            named = match.group(1)
            if named.startswith(TOP_LEVEL) and "<" not in named and not (ROOT / named).exists():
                problems.append(f"{where(path, number)}: {named} does not exist")
    return problems


def link_problems(path: Path, text: str) -> list[str]:
    """Links that leave the repository, point at no file, or name a heading the page does not have."""
    problems = []
    for number, target in link_targets(text):
        here = where(path, number)
        if SCHEME.match(target) or target.startswith(("/", "//")):
            problems.append(f"{here}: {target} leaves the repository")
            continue
        file_part, _, anchor = target.partition("#")
        if not file_part:
            if anchor not in anchors(text):
                problems.append(f"{here}: {target} names no heading of this page")
            continue
        destination = (path.parent / file_part).resolve()
        if not destination.is_relative_to(ROOT):
            problems.append(f"{here}: {target} leaves the repository")
        elif not destination.exists():
            problems.append(f"{here}: {target} does not exist")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(text_of(destination)):
            problems.append(f"{here}: {target} names no heading of {destination.name}")
    # A path written as code is not a link, but a reader still goes there: it must stay inside too.
    for number, line in enumerate(text.splitlines(), start=1):
        for match in PARENT_PATH.finditer(line):
            if not (path.parent / match.group(1)).resolve().is_relative_to(ROOT):
                problems.append(f"{where(path, number)}: {match.group(1)} is outside the repository")
    return problems


# ---------------------------------------------------------------------------------------------------------------
# Shell lines that run `copilot`, and whether the real CLI accepts them

PLACEHOLDER = re.compile(r"<[A-Za-z][\w-]*>")
SUBSTITUTION = re.compile(r"\$\(|\$\{|\$[A-Za-z_]|`")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
CONTROL = {"&&", "||", ";", "|", "&", "(", ")"}
REDIRECT = {">", ">>", "<", ">&", "&>", "<<", ">|"}
DUMMY = "1"  # stands in for a placeholder: a number parses as text, a path and a number alike


@dataclass(frozen=True, kw_only=True)
class CommandLine:
    """The arguments after `copilot` on one shell line of the docs, and where the line stands."""

    where: str
    text: str
    args: tuple[str, ...]


def strip_comment(line: str) -> str:
    """The line without its shell comment: a `#` that starts a word outside quotes."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def shell_lines(block: Block) -> list[tuple[int, str]]:
    """Logical lines of a shell block, continuations joined; in a console block only the `$ ` prompts."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for offset, raw in enumerate(block.body.splitlines(), start=1):
        line = raw.rstrip()
        if not pending:
            start = block.line + offset
            if block.language == "console":
                if not line.lstrip().startswith("$ "):
                    continue
                line = line.lstrip()[2:]
            elif line.lstrip().startswith("$ "):
                line = line.lstrip()[2:]
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append((start, pending + line))
        pending = ""
    if pending:
        lines.append((start, pending))
    return lines


def copilot_invocations(line: str) -> tuple[list[tuple[str, ...]], bool]:
    """The argument lists of every `copilot` command on a shell line, and whether the line was skipped.

    A line with shell substitution cannot be read without a shell, so it is skipped (and says so); placeholders
    such as `<id>` are replaced by a dummy value, so their command and options are still checked.
    """
    line = strip_comment(line)
    if SUBSTITUTION.search(line):
        return [], "copilot" in line
    lexer = shlex.shlex(PLACEHOLDER.sub(DUMMY, line), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    tokens = list(lexer)
    found: list[tuple[str, ...]] = []
    segment: list[str] = []
    for token in [*tokens, ";"]:
        if token not in CONTROL:
            segment.append(token)
            continue
        words: list[str] = []
        skip_next = False
        for word in segment:
            if skip_next:
                skip_next = False
            elif word in REDIRECT:
                skip_next = True  # the file a redirect names is not an argument
            else:
                words.append(word)
        while words and ASSIGNMENT.match(words[0]):
            words.pop(0)  # COPILOT_X=value before the command
        if words and (words[0] == "copilot" or words[0].endswith("/copilot")):
            found.append(tuple(words[1:]))
        elif len(words) >= 3 and words[0].split("/")[-1].startswith("python") and words[1:3] == ["-m", "copilot"]:
            found.append(tuple(words[3:]))
        segment = []
    return found, False


def command_lines(blocks: list[Block]) -> tuple[list[CommandLine], list[str]]:
    """Every `copilot` command in the shell blocks given, and the lines skipped for shell substitution."""
    commands: list[CommandLine] = []
    skipped: list[str] = []
    for block in blocks:
        if block.language not in SHELL_LANGUAGES:
            continue
        for number, line in shell_lines(block):
            invocations, was_skipped = copilot_invocations(line)
            if was_skipped:
                skipped.append(f"{where(block.path, number)}: {line}")
            commands.extend(
                CommandLine(where=where(block.path, number), text=line.strip(), args=args) for args in invocations
            )
    return commands, skipped


def cli() -> typer.core.TyperGroup:
    # Typer carries its own copy of click: its groups, options and errors are typer.core's and typer's.
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    return group


def parse_command(args: tuple[str, ...] | list[str]) -> tuple[str, str | None]:
    """The command path the arguments name and why the real CLI would refuse them (None: it parses).

    Parsing goes through click's own `make_context`, so types, choices, ranges and required options all count;
    the command itself never runs.
    """
    group = cli()
    context = typer.Context(group, info_name="copilot")
    path = ["copilot"]
    rest = list(args)
    while True:
        while rest and rest[0].startswith("-"):
            if rest[0] == "--help":
                return " ".join(path), None
            option = next(
                (p for p in group.get_params(context) if rest[0] in (*p.opts, *p.secondary_opts)),
                None,
            )
            if not isinstance(option, typer.core.TyperOption) or option.param_type_name != "option":
                return " ".join(path), f"no such option {rest[0]} before the command"
            rest.pop(0)
            if not option.is_flag:
                if not rest:
                    return " ".join(path), f"option {option.opts[0]} needs a value"
                rest.pop(0)
        if not rest:
            return " ".join(path), None  # a group alone prints its help
        name = rest.pop(0)
        command = group.get_command(context, name)
        if command is None:
            return " ".join(path), f"no command {name!r} in `{' '.join(path)}`"
        path.append(name)
        if isinstance(command, typer.core.TyperGroup):
            group = command
            context = typer.Context(command, info_name=name, parent=context)
            continue
        if "--help" in rest:
            return " ".join(path), None
        try:
            command.make_context(name, rest, parent=context, resilient_parsing=False)
        except typer.TyperException as err:
            return " ".join(path), err.format_message()
        return " ".join(path), None


def command_paths(group: typer.core.TyperGroup, prefix: str = "copilot") -> list[str]:
    paths = []
    for name, command in group.commands.items():
        if isinstance(command, typer.core.TyperGroup):  # a sub-group such as `fault`
            paths.extend(command_paths(command, f"{prefix} {name}"))
        else:
            paths.append(f"{prefix} {name}")
    return paths


def all_blocks() -> list[Block]:
    return [block for path in doc_files() for block in fenced_blocks(path, text_of(path))]


# ---------------------------------------------------------------------------------------------------------------
# Settings examples: copilot.toml and COPILOT_X=value


def clear_copilot_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("COPILOT_"):
            monkeypatch.delenv(name)


def load_toml_example(text: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a person gets with this text as `copilot.toml` in the working directory, and nothing else."""
    clear_copilot_environment(monkeypatch)
    (folder / "copilot.toml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(folder)
    return load_settings()


def as_written(value: Any) -> Any:
    """A loaded setting as TOML would spell it, to compare with the example."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value


ENVIRONMENT_EXAMPLE = re.compile(r"(?<![\w$])(COPILOT_[A-Z][A-Z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s`|)\\]*)")
VARIABLE = re.compile(r"(?<!\w)(COPILOT_[A-Z][A-Z0-9_]*)")


def environment_examples(text: str) -> list[tuple[int, str, str]]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in ENVIRONMENT_EXAMPLE.finditer(line):
            found.append((number, match.group(1), match.group(2).strip("\"'")))
    return found


def environment_problem(name: str, value: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """Why `name=value` is not a working example (None when it is)."""
    if name not in setting_variables():
        return None if name in OTHER_VARIABLES else f"{name} is no setting"
    if value in ("", "...") or PLACEHOLDER.search(value):
        return None  # a name without a concrete value: nothing to load
    clear_copilot_environment(monkeypatch)
    monkeypatch.chdir(folder)  # no copilot.toml here
    monkeypatch.setenv(name, value)
    try:
        load_settings()
    except ConfigError as err:
        return str(err)
    finally:
        monkeypatch.delenv(name)
    return None


def code_text() -> str:
    parts = [
        text_of(path)
        for top in ("copilot", "connectors", "knowledge", "console", "evals", "tests")
        for path in (ROOT / top).rglob("*.py")
        if path != Path(__file__).resolve()
    ]
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------------------------
# What the docs must say


def test_every_setting_is_documented() -> None:
    page = text_of(DOCS / "configuration.md")
    assert "COPILOT_DATA_DIR" in setting_variables()
    assert sorted(v for v in setting_variables() if f"`{v}`" not in page) == []


def test_every_command_is_documented() -> None:
    page = text_of(DOCS / "cli.md")
    paths = command_paths(cli())
    assert "copilot fault inject" in paths
    assert [p for p in paths if f"`{p}" not in page] == []


def test_readme_names_the_two_commands() -> None:
    readme = text_of(README)
    assert "make demo" in readme
    assert "make test" in readme
    assert "make test" in text_of(ROOT / ".ci" / "run")


def test_the_readme_stays_short() -> None:
    assert len(text_of(README).splitlines()) <= README_MAX_LINES


def test_every_docs_page_exists_and_the_readme_links_it() -> None:
    linked = {target.partition("#")[0] for _, target in link_targets(text_of(README))}
    expected = {f"docs/{page}.md" for page in PAGES}
    assert sorted(expected - linked) == []
    assert sorted(p for p in expected if not (ROOT / p).is_file()) == []
    # A page nobody links is a page nobody finds.
    assert sorted(str(p.relative_to(ROOT)) for p in DOCS.glob("*.md")) == sorted(expected)


def test_every_docs_page_opens_with_its_purpose() -> None:
    for page in PAGES:
        lines = text_of(DOCS / f"{page}.md").splitlines()
        assert lines[0].startswith("# "), page
        assert lines[1] == "", page
        purpose = lines[2]
        assert purpose, page
        assert not purpose.startswith(("#", "`", "|", "-")), page
        assert lines[3] == "", f"{page}: the purpose is one line"


def test_every_link_resolves_inside_the_repository() -> None:
    problems = [problem for path in doc_files() for problem in link_problems(path, text_of(path))]
    assert problems == []


def test_the_link_checker_sees_a_bad_link() -> None:
    # Guard the guard: each of these must be reported, or the scan above proves nothing.
    page = ROOT / "docs" / "guard.md"  # never written: the checker reads only the text given
    text = (
        "# Guard\n\nSee [the design](../../shared/ARCHITECTURE.md), [the web](https://example.com/),\n"
        "[a missing page](missing.md), [a missing heading](cli.md#no-such-heading), <https://example.org>,\n"
        "http://example.net/x and `../../shared/ARCHITECTURE.md`.\n"
        "Fine: [the CLI](cli.md#conventions), [home](../README.md), [this](#guard), `[not a link](x.md)`.\n"
    )
    problems = link_problems(page, text)
    assert problems == [
        "docs/guard.md:3: ../../shared/ARCHITECTURE.md leaves the repository",
        "docs/guard.md:3: https://example.com/ leaves the repository",
        "docs/guard.md:4: missing.md does not exist",
        "docs/guard.md:4: cli.md#no-such-heading names no heading of cli.md",
        "docs/guard.md:4: https://example.org leaves the repository",
        "docs/guard.md:5: http://example.net/x leaves the repository",
        "docs/guard.md:3: ../../shared/ARCHITECTURE.md is outside the repository",
        "docs/guard.md:5: ../../shared/ARCHITECTURE.md is outside the repository",
    ]


def test_every_repository_path_the_docs_name_exists() -> None:
    problems = [problem for path in doc_files() for problem in path_problems(path, text_of(path))]
    assert problems == []


def test_the_path_checker_sees_a_moved_file() -> None:
    text = "The executor is `copilot/executor.py`; the demo keeps `DATA_DIR/logs/` and `bm25/<collection>/`.\n"
    assert path_problems(DOCS / "guard.md", "# Guard\n\n" + text) == [
        "docs/guard.md:3: copilot/executor.py does not exist"
    ]
    assert path_problems(DOCS / "guard.md", "`copilot/pipeline/executor.py` and `tests/test_docs.py`") == []


TOML_BLOCKS = [block for block in all_blocks() if block.language == "toml"]


def test_the_docs_show_a_copilot_toml() -> None:
    assert [b for b in TOML_BLOCKS if b.path == DOCS / "configuration.md"] != []


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=lambda b: where(b.path, b.line))
def test_every_toml_example_loads(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = tomllib.loads(block.body)
    assert written, "an empty example shows nothing"
    settings = load_toml_example(block.body, tmp_path, monkeypatch)
    # Each value the example sets is the value the settings hold: the file was read, not ignored.
    assert {name: as_written(getattr(settings, name)) for name in written} == written


def test_the_toml_check_refuses_a_wrong_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The example the README once showed: `user` is not a setting (it is `opcua_user`).
    with pytest.raises(ConfigError, match="Extra inputs are not permitted"):
        load_toml_example('endpoint = "opc.tcp://plc-line1.example:4840/"\nuser = "copilot"\n', tmp_path, monkeypatch)
    settings = load_toml_example('endpoint = "opc.tcp://plc-line1.example:4840/"\n', tmp_path, monkeypatch)
    assert settings.endpoint == "opc.tcp://plc-line1.example:4840/"


def test_every_copilot_variable_the_docs_name_exists() -> None:
    named = {(path, m.group(1)) for path in doc_files() for m in VARIABLE.finditer(text_of(path))}
    known = setting_variables() | OTHER_VARIABLES
    assert sorted(f"{path.relative_to(ROOT)}: {name}" for path, name in named if name not in known) == []


def test_the_other_variables_are_read_by_the_code() -> None:
    code = code_text()
    assert sorted(name for name in OTHER_VARIABLES if f'"{name}"' not in code) == []


def test_every_environment_example_names_a_real_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    examples = [(path, *found) for path in doc_files() for found in environment_examples(text_of(path))]
    assert len(examples) >= 5  # the pages do show examples; none found means the pattern broke
    problems = []
    for path, number, name, value in examples:
        problem = environment_problem(name, value, tmp_path, monkeypatch)
        if problem is not None:
            problems.append(f"{where(path, number)}: {name}={value}: {problem}")
    assert problems == []


def test_the_environment_check_sees_a_wrong_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert environment_examples("run `COPILOT_USER=copilot copilot watch`") == [(1, "COPILOT_USER", "copilot")]
    assert environment_problem("COPILOT_USER", "copilot", tmp_path, monkeypatch) == "COPILOT_USER is no setting"
    problem = environment_problem("COPILOT_HISTORY_SAMPLES", "lots", tmp_path, monkeypatch)
    assert problem is not None
    assert "history_samples (COPILOT_HISTORY_SAMPLES)" in problem
    assert environment_problem("COPILOT_PROVIDER", "ollama", tmp_path, monkeypatch) is None


def test_every_copilot_command_line_parses() -> None:
    commands, skipped = command_lines(all_blocks())
    assert len(commands) >= FEWEST_COMMAND_LINES
    assert skipped == []  # a docs example a reader can paste as it is
    problems = []
    for command in commands:
        _, problem = parse_command(command.args)
        if problem is not None:
            problems.append(f"{command.where}: {command.text}: {problem}")
    assert problems == []


def test_every_command_has_an_example_that_parses() -> None:
    commands, _ = command_lines(all_blocks())
    shown = {path for path, problem in map(parse_command, (c.args for c in commands)) if problem is None}
    assert sorted(set(command_paths(cli())) - shown) == []


def test_the_command_checker_refuses_what_the_cli_refuses() -> None:
    # Guard the guard: an unknown command, an unknown option, a bad value and a missing option are refused.
    assert parse_command(["fault", "explode"])[1] == "no command 'explode' in `copilot fault`"
    path, problem = parse_command(["fault", "inject", "conveyor_jam", "--bogus"])
    assert path == "copilot fault inject"
    assert problem is not None
    assert "No such option: --bogus" in problem
    problem = parse_command(["sim", "--port", "many"])[1]
    assert problem is not None
    assert "Invalid value for '--port'" in problem
    problem = parse_command(["ask", "Why?"])[1]
    assert problem is not None
    assert "--as" in problem  # required
    assert parse_command(["--bogus", "fault", "list"])[1] == "no such option --bogus before the command"
    assert parse_command(["fault", "inject", "conveyor_jam", "--endpoint", "opc.tcp://127.0.0.1:4840/"]) == (
        "copilot fault inject",
        None,
    )
    assert parse_command(["-v", "users", "list", "--json"]) == ("copilot users list", None)


def test_the_command_extractor_reads_shell_as_a_shell_would() -> None:
    page = README  # only for the line numbers it reports
    body = "\n".join(
        [
            "make demo",
            "COPILOT_PROVIDER=ollama .venv/bin/copilot ask 'Why?' --as olga   # a comment # with hashes",
            "copilot tags --endpoint opc.tcp://h:4840/ --draft-line > line.yaml && copilot fault list",
            "copilot actions show <id> \\",
            "    --json",
            "copilot approve $(copilot actions list --json | jq -r '.[0].id') --as sam",
            "python -m copilot fault clear",
        ]
    )
    commands, skipped = command_lines([Block(path=page, line=10, language="sh", body=body)])
    assert [c.args for c in commands] == [
        ("ask", "Why?", "--as", "olga"),
        ("tags", "--endpoint", "opc.tcp://h:4840/", "--draft-line"),
        ("fault", "list"),
        ("actions", "show", DUMMY, "--json"),
        ("fault", "clear"),
    ]
    assert [c.where for c in commands] == [
        "README.md:12",
        "README.md:13",
        "README.md:13",
        "README.md:14",
        "README.md:17",
    ]
    assert skipped == ["README.md:16: copilot approve $(copilot actions list --json | jq -r '.[0].id') --as sam"]
    console = Block(path=page, line=1, language="console", body="$ copilot fault list\nconveyor_jam  infeed  Jam")
    assert [c.args for c in command_lines([console])[0]] == [("fault", "list")]


LINE_BLOCKS = [
    block
    for block in fenced_blocks(DOCS / "line-definition.md", text_of(DOCS / "line-definition.md"))
    if block.language == "yaml"
]


def test_the_docs_show_a_line_definition() -> None:
    assert LINE_BLOCKS != []


@pytest.mark.parametrize("block", LINE_BLOCKS, ids=lambda b: where(b.path, b.line))
def test_every_line_definition_example_loads(block: Block, tmp_path: Path) -> None:
    path = tmp_path / "line.yaml"
    path.write_text(block.body, encoding="utf-8")
    definition = load_line(path)
    assert definition.tags
