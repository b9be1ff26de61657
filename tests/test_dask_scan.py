"""Temperature scans in chunks: serial vs a Dask LocalCluster (same numbers), the missing-dask error,
and the --output table formats of ``replicasym scan``."""
from __future__ import annotations

import builtins
import csv
import importlib.util
import json

import numpy as np
import pytest

import replicasym as rs
from replicasym import cli
from replicasym.errors import ParameterError, ReplicasymError
from replicasym.solvers.scan import chunks_of, scan

HAVE_DASK = importlib.util.find_spec("dask") is not None and importlib.util.find_spec("distributed") is not None
needs_dask = pytest.mark.skipif(not HAVE_DASK, reason="dask.distributed is not installed: it is in the test "
                                                      "extra (pip install '.[test]'); elsewhere pip install "
                                                      "'replicasym[dask]'")
T_GRID = list(np.linspace(0.3, 1.2, 6))


@pytest.fixture
def no_dask(monkeypatch):
    """Make ``import dask...`` fail as it does where the extra is not installed."""
    real_import = builtins.__import__

    def fake_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and (name == "dask" or name.startswith(("dask.", "distributed"))):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_chunks_cover_the_grid_in_order():
    assert chunks_of([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    with pytest.raises(ParameterError):
        chunks_of([1, 2], 0)


def test_serial_chunks_follow_continuation_inside_each_chunk():
    model = rs.models.sk(h=0.1)
    whole = scan(model, "rs", T_GRID)
    chunked = scan(model, "rs", T_GRID, chunk_size=2)
    assert [s.T for s in chunked] == [s.T for s in whole]
    for a, b in zip(whole, chunked):  # the same saddle points, restarted continuation or not
        assert abs(a.free_entropy - b.free_entropy) < 1e-10
        assert abs(a.order_parameters["q"] - b.order_parameters["q"]) < 1e-9


def test_unknown_scheduler_is_a_parameter_error():
    with pytest.raises(ParameterError, match="dask=ADDRESS"):
        scan(rs.models.sk(), "rs", [0.5], scheduler="mpi")


def test_missing_dask_names_the_extra(no_dask, capsys):
    with pytest.raises(ReplicasymError, match=r"pip install 'replicasym\[dask\]'"):
        scan(rs.models.sk(), "rs", [0.5], scheduler="dask")
    status = cli.main(["scan", "sk", "--ansatz", "rs", "--T", "0.5:0.6:2", "--scheduler", "dask"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert len(err) == 1 and "replicasym[dask]" in err[0] and err[0].startswith("replicasym: error:")


@needs_dask
def test_dask_scan_gives_the_serial_numbers():
    """Chunks of 2 on a 2-worker LocalCluster against the serial scan with the same chunks: every
    field of every point equal (bit for bit), in grid order."""
    model = rs.models.spherical(p=3)
    serial = scan(model, "1rsb", T_GRID, chunk_size=2)
    distributed = scan(model, "1rsb", T_GRID, scheduler="dask", workers=2, chunk_size=2)
    assert [s.as_dict() for s in distributed] == [s.as_dict() for s in serial]


@needs_dask
def test_cli_dask_scan_writes_the_serial_table(tmp_path, capsys):
    args = ["scan", "sk", "--param", "h=0.1", "--ansatz", "rs", "--T", "0.3:1.2:6", "--chunk-size", "3"]
    assert cli.main([*args, "--output", str(tmp_path / "serial.csv")]) == 0
    capsys.readouterr()
    assert cli.main([*args, "--scheduler", "dask", "--workers", "2", "--output", str(tmp_path / "dask.csv"),
                     "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["output"] == str(tmp_path / "dask.csv") and len(obj["points"]) == 6
    assert (tmp_path / "dask.csv").read_text() == (tmp_path / "serial.csv").read_text()


def test_output_csv_and_json_hold_the_scan(tmp_path, capsys):
    args = ["scan", "sk", "--ansatz", "rs", "--T", "0.5:1.5:3"]
    assert cli.main([*args, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert cli.main([*args, "--output", str(tmp_path / "t.csv")]) == 0
    assert cli.main([*args, "--output", str(tmp_path / "t.json")]) == 0
    assert json.loads((tmp_path / "t.json").read_text()) == printed
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert [float(r["T"]) for r in rows] == [p["T"] for p in printed["points"]]
    for r, p in zip(rows, printed["points"]):
        assert float(r["free_entropy"]) == p["free_entropy"]  # full double precision (repr)
        assert float(r["q"]) == p["order_parameters"]["q"]
        assert r["converged"] == "True" and r["ansatz"] == "rs"


def test_output_needs_a_known_suffix_and_temperature_scan(tmp_path, capsys):
    assert cli.main(["scan", "sk", "--ansatz", "rs", "--T", "0.5:1:2", "--output", str(tmp_path / "t.txt")]) == 2
    assert cli.main(["scan", "perceptron", "--alpha", "0.1:0.5:3", "--scheduler", "dask"]) == 2
    err = capsys.readouterr().err
    assert ".csv, .json or .parquet" in err and "only for temperature scans" in err


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None,
                    reason="pyarrow is not installed: it is in the test extra (pip install '.[test]'); "
                           "elsewhere pip install 'replicasym[parquet]'")
def test_output_parquet(tmp_path):
    import pyarrow.parquet as pq
    assert cli.main(["scan", "sk", "--ansatz", "rs", "--T", "0.5:1.5:3", "--output", str(tmp_path / "t.parquet")]) == 0
    table = pq.read_table(tmp_path / "t.parquet").to_pylist()
    assert [r["T"] for r in table] == [0.5, 1.0, 1.5]


def test_parquet_without_pyarrow_fails_before_the_scan(monkeypatch, tmp_path, capsys):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    monkeypatch.setattr(rs, "scan", lambda *a, **k: pytest.fail("the scan ran before the pyarrow check"))
    assert cli.main(["scan", "sk", "--ansatz", "rs", "--T", "0.5:1:2", "--output", str(tmp_path / "t.parquet")]) == 1
    assert "needs pyarrow" in capsys.readouterr().err
