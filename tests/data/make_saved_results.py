"""Write one small saved folder of every result type into ``tests/data/saved_results/``.

Run once with the wgmsim of commit 0032178 (before the results were generated from declared
fields, issue 19): ``tests/test_saved_results.py`` checks that the current code still loads
them and gives the same record. Each folder also holds ``expected.json``, the result's
``to_dict()`` (without provenance) at the time it was written.

    python tests/data/make_saved_results.py
"""

import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from test_netcdf import BUILDERS, PAPER  # noqa: E402

from simulator.master import EvolveOptions, evolve_master, solve_master  # noqa: E402
from simulator.protocol import ResultProtocol  # noqa: E402

OUT = HERE / "saved_results"


def main() -> None:
    builders = dict(BUILDERS)
    builders["MasterResult"] = lambda: solve_master(PAPER)
    builders["MasterTrajectory"] = lambda: evolve_master(  # small Fock spaces: small files
        PAPER.replace(temperature=1e-3, power=5e-3), np.linspace(0.0, 1.0, 3),
        options=EvolveOptions(store_states=True, check_truncation=False, cutoffs=(3, 4)))
    shutil.rmtree(OUT, ignore_errors=True)
    for name, build in builders.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = build()
        assert isinstance(res, ResultProtocol)
        folder = OUT / name
        res.save(folder)
        record = res.to_dict()
        record.pop("provenance")
        (folder / "expected.json").write_text(json.dumps(record, sort_keys=True) + "\n")
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(f"{name}: {size / 1024:.1f} kB")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
