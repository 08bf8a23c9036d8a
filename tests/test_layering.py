"""The import graph of securechat/ (scripts/import_graph.py): no circles, layers respected."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

from twisted.trial import unittest

REPO = Path(__file__).resolve().parent.parent


def _load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph",
                                                  REPO / "scripts" / "import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


import_graph = _load_checker()


class RealTreeTests(unittest.SynchronousTestCase):
    def setUp(self) -> None:
        self.report = import_graph.check(REPO)

    def test_no_module_imports_itself_back_through_others(self) -> None:
        self.assertEqual(self.report.cycles, [], "\n".join(self.report.lines()))

    def test_the_core_the_relay_the_protocol_and_the_ui_keep_to_their_layers(self) -> None:
        self.assertEqual(self.report.violations, [], "\n".join(self.report.lines()))


class CheckerTests(unittest.SynchronousTestCase):
    """The checker itself, over small trees written for the purpose."""

    def tree(self, files: dict[str, str]) -> Path:
        repo = Path(self.mktemp())
        for name, source in files.items():
            path = repo / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        return repo

    def test_a_circle_made_only_of_type_hints_counts(self) -> None:
        repo = self.tree({
            "securechat/__init__.py": "",
            "securechat/relay/__init__.py": "",
            "securechat/relay/router.py": "from securechat.relay.handler import Handler\n",
            "securechat/relay/handler.py": """\
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from . import router
                class Handler: ...
                """,
            "securechat/relay/alone.py": "from securechat.relay import handler\n",
        })
        report = import_graph.check(repo)
        self.assertEqual(report.cycles, [["securechat.relay.handler", "securechat.relay.router"]])
        self.assertFalse(report.ok)
        self.assertIn("securechat.relay.handler:3 imports securechat.relay.router "
                      "(TYPE_CHECKING)", "\n".join(report.lines()))

    def test_from_a_package_import_a_submodule_depends_on_the_package(self) -> None:
        """`from pkg import sub` runs pkg/__init__.py, which here imports the module
        doing it: a circle (`import pkg.sub as sub` is not one)."""
        files = {
            "securechat/__init__.py": "",
            "securechat/client/__init__.py": "from securechat.client.core import Client\n",
            "securechat/client/events.py": "",
            "securechat/client/core.py": "from securechat.client import events\nClient = 1\n",
        }
        report = import_graph.check(self.tree(files))
        self.assertEqual(report.cycles, [["securechat.client", "securechat.client.core"]])
        files["securechat/client/core.py"] = ("import securechat.client.events as events\n"
                                              "Client = 1\n")
        self.assertEqual(import_graph.check(self.tree(files)).cycles, [])

    def test_an_import_across_layers_is_named_even_inside_a_function(self) -> None:
        repo = self.tree({
            "securechat/__init__.py": "",
            "securechat/client/__init__.py": "",
            "securechat/client/wamp.py": "",
            "securechat/client/core.py": """\
                def show():
                    import PyQt6.QtWidgets
                """,
            "securechat/ui/__init__.py": "",
            "securechat/ui/bridge.py": "from ..client.wamp import JoinRefused\n",
            "securechat/ui/fine.py": "from securechat.client import core\n",
        })
        report = import_graph.check(repo)
        self.assertEqual(report.cycles, [])
        self.assertEqual([(v.found.importer, v.found.line, v.found.imported)
                          for v in report.violations],
                         [("securechat.client.core", 2, "PyQt6.QtWidgets"),
                          ("securechat.ui.bridge", 1, "securechat.client.wamp")])
        self.assertFalse(report.ok)

    def test_a_long_module_needs_a_reason_in_its_docstring_but_only_as_a_warning(self) -> None:
        filler = "x = 1\n" * 500
        repo = self.tree({
            "securechat/__init__.py": "",
            "securechat/long.py": '"""Many things."""\n' + filler,
            "securechat/explained.py": '"""Many things.\n\nSize: one table, kept whole."""\n'
                                       + filler,
            "securechat/short.py": '"""Few things."""\n' + "x = 1\n" * 498,
        })
        report = import_graph.check(repo)
        self.assertEqual([w.split(":")[0] for w in report.warnings], ["securechat.long"])
        self.assertTrue(report.ok)
