"""The cluster route: ``--scheduler`` (a dask scheduler or ``local:N``) on sde/ringup/validate."""

from __future__ import annotations

import json
import stat
import sys

import pytest

from simulator.cli import main
from simulator.cli.checks import UsageError
from simulator.cli.cluster import dask_backend

SDE = ["sde", "--n-traj", "48", "--chunk-size", "8", "--dt", "0.1", "--t-burn", "20",
       "--t-avg", "40", "--batch-time", "10", "--seed", "3", "--json"]
#: Everything of the result that must not depend on where the chunks ran.
SAME = ("covariance", "covariance_stderr", "mean", "mean_stderr", "log_negativity",
        "log_negativity_stderr", "steering", "diverged", "seeds", "status", "observables")


def test_local_cluster_is_bit_identical_to_one_job(tmp_path, capsys):
    """``--scheduler local:2`` with the default ``--n-jobs 1``: every chunk goes to the cluster
    (``timing.n_jobs`` is the number of chunks) and the result is bit for bit that of one job;
    the checkpoint files are group/world-readable, as a shared folder needs. Both runs are
    in-process (the cluster's workers are processes of their own either way); the command line
    in a fresh interpreter is tested in tests/test_cli.py."""
    pytest.importorskip("distributed")
    assert main([*SDE, "--n-jobs", "1"]) == 0
    serial = json.loads(capsys.readouterr().out)
    out = tmp_path / "run"
    assert main([*SDE, "--scheduler", "local:2", "--out", str(out)]) == 0
    cluster = json.loads(capsys.readouterr().out)
    assert serial["timing"]["n_jobs"] == 1
    assert cluster["timing"]["n_jobs"] == 6  # all 6 chunks handed to the cluster
    for key in SAME:
        if key in serial:
            assert cluster[key] == serial[key], key
    chunks = sorted(out.rglob("chunk_*.npz"))
    assert len(chunks) == 6
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > len(chunks)  # the result and the manifest too
    for path in files:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o044 == 0o044, (path, oct(mode))


@pytest.mark.parametrize("value", ["local:0", "local:x", "local", "tcp://", "a b"])
def test_bad_scheduler_addresses_are_refused(capsys, value):
    assert main(["sde", "--scheduler", value, "--n-traj", "16"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--scheduler" in err and repr(value) in err


def test_missing_dask_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(UsageError, match=r"wgmsim\[dask\]"):
        with dask_backend("local:1"):
            pass
    assert main(["ringup", "--scheduler", "local:1", "--n-traj", "16", "--chunk-size", "4",
                 "--t-final", "4"]) == 2
    err = capsys.readouterr().err
    assert "needs dask and distributed" in err and "wgmsim[dask]" in err


def test_no_scheduler_changes_nothing():
    with dask_backend(None) as client:
        assert client is None


@pytest.mark.slow
def test_ringup_and_validate_on_a_local_cluster(capsys, tmp_path):
    """``ringup`` and ``validate`` take ``--scheduler`` too, with the same bits as one job."""
    pytest.importorskip("distributed")
    ringup = ["ringup", "--n-traj", "16", "--chunk-size", "4", "--t-final", "4", "--json"]
    assert main(ringup) == 0
    serial = json.loads(capsys.readouterr().out)
    assert main(ringup + ["--scheduler", "local:2"]) == 0
    cluster = json.loads(capsys.readouterr().out)
    for key in ("covariance", "covariance_stderr", "mean"):
        assert cluster[key] == serial[key], key
    runs = []
    for extra in ([], ["--scheduler", "local:2"]):
        out = tmp_path / f"v{len(runs)}"
        assert main(["validate", "--quick", "--no-master", "--json", "--out", str(out)]
                    + extra) == 0
        runs.append(json.loads(capsys.readouterr().out))
    assert runs[0]["sde"]["covariance"] == runs[1]["sde"]["covariance"]
