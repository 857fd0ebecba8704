"""TensorFlow loads on a thread beside a flow's first steps, and only where it is needed."""

from __future__ import annotations

import subprocess
import sys

from pricecast.flows.boot import run_label


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_importing_the_flows_loads_no_tensorflow():
    probe = (
        "import sys\n"
        "import pricecast.flows.forecast, pricecast.flows.nightly, pricecast.flows.train\n"
        "import pricecast.flows.deploy\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'}))"
    )
    proc = _python(probe)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_tensorflow_loads_on_a_thread_then_the_process_is_seeded_once():
    probe = (
        "import sys, threading\n"
        "from pricecast.flows.boot import load_tensorflow, tensorflow_ready\n"
        "load_tensorflow()\n"
        "names = [t.name for t in threading.enumerate()]\n"
        "print('loader:', [n for n in names if n == 'import-tensorflow'])\n"
        "tensorflow_ready(3)\n"
        "tensorflow_ready(3)\n"
        "import pricecast.models.training as training\n"
        "print('keras' in sys.modules, training._process_seed)\n"
    )
    proc = _python(probe)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "loader: ['import-tensorflow']"
    assert lines[1] == "True 3"
    # The native start-up preamble stays off stderr, even from the background thread.
    assert "oneDNN" not in proc.stderr and "cpu_feature_guard" not in proc.stderr


def test_a_failed_import_names_its_cause_where_the_flow_waits():
    probe = (
        "import sys, importlib.abc\n"
        "class Refuse(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'tensorflow':\n"
        "            raise ImportError('libcudart.so.12: cannot open shared object file')\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "from pricecast.flows.boot import load_tensorflow, tensorflow_ready\n"
        "load_tensorflow()\n"
        "try:\n"
        "    tensorflow_ready(1)\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    proc = _python(probe)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "TensorFlow could not be imported: libcudart.so.12: cannot open shared object file"
    )


def test_run_labels_name_three_tickers_then_count_the_rest():
    assert run_label(["AAPL", "MSFT"], "2020-12-11") == "AAPL, MSFT 2020-12-11"
    assert run_label(list("ABCDE"), "x") == "A, B, C +2 x"
