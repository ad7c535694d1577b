"""Configuration: layering, the sample generator, and ``config check``."""

from __future__ import annotations

import json
import subprocess
import sys

from oslo_config import cfg

from cumulo import conf as cumulo_conf
from cumulo.cmd import config as check


def _conf(tmp_path, *texts):
    conf = cfg.ConfigOpts()
    cumulo_conf.register(conf)
    files = []
    for i, text in enumerate(texts):
        path = tmp_path / f"c{i}.conf"
        path.write_text(text)
        files.append(str(path))
    cumulo_conf.load(config_files=files, conf=conf)
    return conf


def test_later_files_override_earlier(tmp_path):
    conf = _conf(tmp_path, "[api]\nport = 1111\nthreads = 8\n", "[api]\nport = 2222\n")
    assert conf.api.port == 2222 and conf.api.threads == 8


def test_sample_lists_kernel_options(tmp_path):
    groups = dict(cumulo_conf.list_opts())
    assert {"DEFAULT", "database", "messaging", "api", "service"} <= set(groups)
    assert all(o.help for opts in groups.values() for o in opts)


def test_check_reports_each_problem_on_one_line(tmp_path):
    conf = _conf(tmp_path, "[api]\nport = abc\nfrontends = no-such-frontend\ntypo_option = 1\n[nogroup]\nx = 1\n")
    problems = check.run_checks(conf, check_database=False)
    assert all("\n" not in p for p in problems)
    assert any(p.startswith("[api] port: invalid value") for p in problems)
    assert any("[api] frontends: No api plugin named 'no-such-frontend'" in p for p in problems)
    assert any("unknown option 'typo_option' in [api]" in p for p in problems)
    assert any("unknown section [nogroup]" in p for p in problems)


def test_check_accepts_options_of_an_installed_plugin_not_selected(tmp_path):
    """The filter scheduler's [scheduler] options with the chance driver: unused, not a typo."""
    conf = _conf(tmp_path, "[scheduler]\ndriver = chance\nenabled_filters = RamFilter\nenabled_filterz = x\n")
    problems = check.run_checks(conf, check_database=False)
    assert problems == [f"{tmp_path / 'c0.conf'}: unknown option 'enabled_filterz' in [scheduler]"]


def test_check_reports_what_a_driver_finds_wrong_with_its_options(tmp_path, monkeypatch):
    from cumulo import registry

    fake = registry.load_class("hypervisor", "fake")
    monkeypatch.setattr(fake, "validate_config", classmethod(lambda cls, conf: ["host_count must fit the test"]))
    conf = _conf(tmp_path, "")
    problems = check.run_checks(conf, check_database=False)
    assert "[compute] hypervisor_driver = fake: host_count must fit the test" in problems


def test_check_reports_missing_required_option(tmp_path):
    conf = _conf(tmp_path, "")
    conf.register_opt(cfg.StrOpt("must_have", required=True, help="x"), group="api")
    problems = check.run_checks(conf, check_database=False)
    assert "[api] must_have: required option is not set" in problems


def test_check_reports_unreachable_database(tmp_path):
    conf = _conf(tmp_path, "[database]\nconnection = postgresql+psycopg2://nobody@127.0.0.1:1/none\n")
    problems = []
    saved = cumulo_conf.CONF.database.connection
    cumulo_conf.CONF.set_override("connection", conf.database.connection, group="database")
    try:
        check.check_db(problems)
    finally:
        cumulo_conf.CONF.clear_override("connection", group="database")
    assert saved == cumulo_conf.CONF.database.connection
    assert problems and problems[0].startswith("[database] connection: cannot connect")


# -- options without import side effects ------------------------------------------------------

_LIST_OPTS_PROBE = """
import json, sys
from cumulo import conf
groups = {g: [o.dest for o in opts] for g, opts in conf.list_opts()}
print(json.dumps({"groups": groups, "modules": sorted(sys.modules)}))
"""

#: Kernel modules that reading the options may load: the conf package and its option modules.
_OPTION_ONLY = ("cumulo", "cumulo.conf")


def _list_opts_in_fresh_process() -> dict:
    out = subprocess.run([sys.executable, "-c", _LIST_OPTS_PROBE], capture_output=True, text=True, check=True,
                         timeout=120)
    return json.loads(out.stdout)


def test_list_opts_imports_only_option_modules():
    """The ``oslo.config.opts`` entry point loads no service, database, messaging or driver module."""
    probe = _list_opts_in_fresh_process()
    kernel = [m for m in probe["modules"] if m == "cumulo" or m.startswith("cumulo.") or m.startswith("cumulo_")]
    assert kernel, probe["modules"]
    others = [m for m in kernel if m not in _OPTION_ONLY and not m.startswith("cumulo.conf.")]
    assert others == [], f"list_opts imported {others}"
    assert "cumulo.conf.check" not in kernel
    for heavy in ("sqlalchemy", "kombu", "webob", "cumulo.db", "cumulo.messaging", "cumulo_messaging_rabbit",
                  "cumulo.services", "cumulo.registry"):
        assert heavy not in probe["modules"], heavy


def test_list_opts_has_every_kernel_group_without_importing_the_areas():
    groups = _list_opts_in_fresh_process()["groups"]
    # Every area's options ([identity], [image], [compute], [quota], [network], [scheduler], [object]...)
    # are the area's own (cumulo_service_<area>.opts), listed through their distributions' entry points.
    assert set(groups) == {"DEFAULT", "database", "messaging", "api", "service", "metadata"}
    assert {"lock_timeout", "busy_retry_after"} <= set(groups["database"])
    assert "server_stop_timeout" in groups["messaging"] and "rabbit_pool_size" not in groups["messaging"]


def test_an_area_plugin_declares_and_registers_its_own_options():
    from cumulo_service_image import opts

    import cumulo.services
    from cumulo.conf import CONF

    areas = cumulo.services.installed_areas()
    assert areas["image"].list_opts() == opts.list_opts()
    assert CONF.image.default_store == "filesystem"  # registered by loading the installed areas
    assert ("image", "stores", "image") in check.plugin_options()


def test_option_modules_import_only_oslo_config():
    import ast
    import pathlib

    for module in cumulo_conf.OPTION_MODULES:
        tree = ast.parse(pathlib.Path(module.__file__).read_text())
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                     if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
        assert imported <= {"__future__", "oslo_config", "os", "socket"}, (module.__name__, imported)


def test_importing_the_areas_adds_no_option_and_declares_none_differently():
    """Every option a kernel module registers is declared, identically, in an option module."""
    declared = {(g, o.dest) for g, opts in cumulo_conf.list_opts() for o in opts}
    check.import_areas()
    assert {(g, o.dest) for g, opts in cumulo_conf.list_opts() for o in opts} == declared
    assert cumulo_conf.CONFLICTS == []


def test_extend_keeps_the_first_declaration_and_records_a_different_one():
    group = "test_extend_group"
    first = cfg.StrOpt("x", default="a", help="first")
    cumulo_conf.extend(group, [first])
    try:
        cumulo_conf.extend(group, [cfg.StrOpt("x", default="a", help="first")])  # identical: nothing to say
        assert cumulo_conf.CONFLICTS == []
        cumulo_conf.extend(group, [cfg.StrOpt("x", default="b", help="second")])
        assert cumulo_conf.CONFLICTS == [(group, "x")]
        assert cumulo_conf.CONF.test_extend_group.x == "a"
        assert cumulo_conf.GROUPS[group] == [first]
    finally:
        cumulo_conf.CONFLICTS.clear()
        cumulo_conf.GROUPS.pop(group)
        # The option stays registered (a group no one reads): unregistering needs unparsed
        # arguments, and another test in this process may already have parsed them.


def test_the_old_check_module_is_gone():
    import importlib.util

    assert importlib.util.find_spec("cumulo.conf.check") is None
