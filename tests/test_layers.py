"""The package's layers, read from its source: the pipeline never imports the app layer or a UI library, and the
modules' own imports form no cycle."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "imutrack"
# Where each UI or transport library may be imported (anywhere else is the pipeline, which must not).
ALLOWED = {
    "rich": ("cli/",),
    "matplotlib": ("report/",),
    "bleak": ("sources/ble.py", "sources/bumble_bleak.py"),
    "bumble": ("sources/bumble_bleak.py", "sources/virtual_sensor.py", "cli/record.py"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, module_level_only: bool) -> set[str]:
    """Absolute names a module imports (relative imports are not used in the package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_pipeline_never_imports_the_app_layer_or_a_ui_library():
    offences = []
    for name, path in _modules().items():
        where = path.relative_to(PACKAGE).as_posix()
        for imported in _imports(path, module_level_only=False):
            top = imported.split(".")[0]
            if imported.startswith("imutrack.cli") and not where.startswith(("cli/", "__main__.py")):
                offences.append(f"{where} imports {imported}")
            if top in ALLOWED and not where.startswith(ALLOWED[top]):
                offences.append(f"{where} imports {imported}")
    assert offences == []


def test_the_checks_above_can_see_an_offence(tmp_path):
    # the scan reads imports inside functions too (lazy imports are imports)
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from rich.console import Console\n    import imutrack.cli.guide\n")
    assert {"rich.console", "imutrack.cli.guide"} <= _imports(bad, module_level_only=False)
    assert _imports(bad, module_level_only=True) == set()


def test_module_level_imports_form_no_cycle():
    modules = _modules()
    graph = {name: sorted(m for m in _imports(path, module_level_only=True) if m in modules and m != name)
             for name, path in modules.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = 1
        for nxt in graph[name]:
            if state.get(nxt) == 1:
                return path + [name, nxt]
            if nxt not in state:
                cycle = visit(nxt, path + [name])
                if cycle:
                    return cycle
        state[name] = 2
        return None

    for name in graph:
        if name not in state:
            cycle = visit(name, [])
            assert cycle is None, " → ".join(cycle)


def test_each_live_source_implements_the_source_protocol(tmp_path):
    from imutrack.sources import Source
    from imutrack.sources.ble import BleRecorder, BleSource
    from imutrack.sources.phyphox_live import PhyphoxSource
    from imutrack.sources.simulator import SimulatedSource, SimulatorConfig, simulate

    session = simulate(SimulatorConfig(seed=2, reps_per_side=1, hold_s=10.0, sample_rate_hz=25.0))
    sources = [SimulatedSource(session, speed=0), PhyphoxSource("http://127.0.0.1:9"),
               BleSource(BleRecorder(target="imutrack", out=tmp_path / "x.csv"))]
    for source in sources:  # made, not started: nothing is connected yet
        assert isinstance(source, Source), type(source).__name__
        assert source.meta.chest_normal_axis == "+z" and isinstance(source.status(), str)
        source.close()
        source.close()  # twice is fine
    assert [s.writes_recording for s in sources] == [False, False, True]
    assert not isinstance(object(), Source)
