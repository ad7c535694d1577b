"""Configuration: layering, the sample generator, and ``config check``."""

from __future__ import annotations

from oslo_config import cfg

from cumulo import conf as cumulo_conf
from cumulo.conf import check


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
    problems = check.run(conf, check_database=False)
    assert all("\n" not in p for p in problems)
    assert any(p.startswith("[api] port: invalid value") for p in problems)
    assert any("[api] frontends: No api plugin named 'no-such-frontend'" in p for p in problems)
    assert any("unknown option 'typo_option' in [api]" in p for p in problems)
    assert any("unknown section [nogroup]" in p for p in problems)


def test_check_reports_missing_required_option(tmp_path):
    conf = _conf(tmp_path, "")
    conf.register_opt(cfg.StrOpt("must_have", required=True, help="x"), group="api")
    problems = check.run(conf, check_database=False)
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
