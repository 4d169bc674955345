"""Every message a problem carries is translated: read from the source, so that a new
English text raised without gettext fails the suite, naming its file and line.

A ``DomainError`` (or any subclass) built with a literal message, an f-string or text
glued together, ``errors={"field": ["literal"]}`` beside it, a class ``title`` given as
a plain string, and ``problem(status, "literal")`` in the API are refused: wrap the text
in ``_()``/``gettext()`` (``lazy_gettext()`` where it is not rendered at once) with named
placeholders (``_("No task %(id)s.", id=task.id)``), then ``make i18n`` and translate.
"""

from __future__ import annotations

import ast
from pathlib import Path

import workforce

PACKAGE = Path(workforce.__file__).parent
TRANSLATING = {"_", "gettext", "ngettext", "lazy_gettext", "lazy_ngettext"}


def error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """DomainError and every class of the package that derives from it."""
    names = {"DomainError"}
    bases = {node.name: {_name(base) for base in node.bases}
             for tree in trees.values() for node in ast.walk(tree)
             if isinstance(node, ast.ClassDef)}
    grew = True
    while grew:
        found = {name for name, parents in bases.items() if parents & names}
        grew = not found <= names
        names |= found
    return names


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def untranslated(node: ast.expr | None) -> bool:
    """Text written in the source that reaches people without passing through gettext."""
    if node is None:
        return False
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(node.value.strip())
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return untranslated(node.left) or untranslated(node.right)
    if isinstance(node, ast.IfExp):
        return untranslated(node.body) or untranslated(node.orelse)
    if isinstance(node, ast.BoolOp):
        return any(untranslated(value) for value in node.values)
    return False  # a call (gettext or another), a name: decided where it is made


def _messages(call: ast.Call, position: int) -> list[ast.expr]:
    found = [call.args[position]] if len(call.args) > position else []
    for keyword in call.keywords:
        if keyword.arg == "detail":
            found.append(keyword.value)
        if keyword.arg == "errors" and isinstance(keyword.value, ast.Dict):
            for value in keyword.value.values:
                found.extend(value.elts if isinstance(value, ast.List) else [value])
    return found


def offences(trees: dict[Path, ast.Module]) -> list[str]:
    errors = error_classes(trees)
    found = []
    for path, tree in trees.items():
        where = path.relative_to(PACKAGE.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = _name(node.func)
                if name in errors:
                    messages = _messages(node, 0)
                elif name == "problem" and "api" in path.parts:
                    messages = _messages(node, 1)
                else:
                    continue
                found += [f"{where}:{message.lineno}: {ast.unparse(message)[:80]}"
                          for message in messages if untranslated(message)]
            elif isinstance(node, ast.ClassDef) and node.name in errors:
                found += [f"{where}:{item.lineno}: title {ast.unparse(item.value)}"
                          for item in node.body
                          if isinstance(item, ast.Assign) and untranslated(item.value)
                          and any(_name(target) == "title" for target in item.targets)]
    return found


def parse(paths: list[Path]) -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(), str(path)) for path in paths}


def test_every_problem_message_passes_through_gettext() -> None:
    found = offences(parse(sorted(PACKAGE.rglob("*.py"))))
    assert not found, "untranslated messages (wrap them in _(), then `make i18n`):\n" + \
        "\n".join(found)


def test_the_check_names_file_and_line_of_an_untranslated_message() -> None:
    source = PACKAGE / "projects" / "example_for_the_test.py"
    text = '''
from workforce.errors import Conflict, NotFound
from workforce.i18n import _

class Gone(NotFound):
    title = "Gone"

def f(x):
    raise NotFound("No such thing.")

def g(x):
    raise Gone(f"No thing {x}.")

def h(x):
    raise Conflict(_("Fine %(x)s.", x=x), errors={"x": ["Not fine."]})

def k(x):
    raise Conflict(_("Fine."), code="fine")
'''
    errors_module = PACKAGE / "errors.py"
    found = offences({**parse([errors_module]), source: ast.parse(text)})
    assert found == [
        "workforce/projects/example_for_the_test.py:6: title 'Gone'",
        "workforce/projects/example_for_the_test.py:9: 'No such thing.'",
        "workforce/projects/example_for_the_test.py:12: f'No thing {x}.'",
        "workforce/projects/example_for_the_test.py:15: 'Not fine.'",
    ]


def test_no_module_that_imports_underscore_binds_it_too() -> None:
    """``local, _, domain = ...`` beside ``from workforce.i18n import _`` turns ``_`` into
    a string in that function: such a module imports ``gettext`` instead."""
    found = []
    for path, tree in parse(sorted(PACKAGE.rglob("*.py"))).items():
        imported = any(isinstance(node, ast.ImportFrom) and node.module == "workforce.i18n"
                       and any(alias.name == "_" for alias in node.names)
                       for node in ast.walk(tree))
        found += [f"{path.relative_to(PACKAGE.parent)}:{node.lineno}" for node in ast.walk(tree)
                  if imported and ((isinstance(node, ast.Name) and node.id == "_"
                                   and isinstance(node.ctx, ast.Store))
                                   or (isinstance(node, ast.arg) and node.arg == "_"))]
    assert not found, "binds _ although it imports gettext's _: " + ", ".join(found)
